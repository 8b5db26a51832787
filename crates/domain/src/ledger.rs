//! Ledger rules: balanced entries, balances with reservations (holds), and the canonical byte
//! encoding that each fund's hash chain is computed over. Storage applies these functions inside
//! its transactions; nothing here touches a database.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What an account stands for. Each fund has one account of each kind per asset; only `Fund`
/// accounts hold the fund's own money and carry the no-overdraft rule. The others stand for the
/// outside world, per fund, so that no system account is shared (and locked) by two funds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// The fund's holdings of an asset.
    Fund,
    /// Donors: the source of donations.
    Donations,
    /// Households and other final recipients.
    Payouts,
    /// Balances brought in when the fund joined the system.
    Opening,
    /// Money between two funds during an allocation.
    InTransit,
}

impl AccountKind {
    pub const ALL: [AccountKind; 5] = [
        Self::Fund,
        Self::Donations,
        Self::Payouts,
        Self::Opening,
        Self::InTransit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fund => "fund",
            Self::Donations => "donations",
            Self::Payouts => "payouts",
            Self::Opening => "opening",
            Self::InTransit => "in_transit",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the account's available balance must never go below zero.
    pub fn no_overdraft(self) -> bool {
        self == Self::Fund
    }
}

/// What kind of business event an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    OpeningBalance,
    Donation,
    Disbursement,
    Allocation,
    Reversal,
}

impl EntryKind {
    pub const ALL: [EntryKind; 5] = [
        Self::OpeningBalance,
        Self::Donation,
        Self::Disbursement,
        Self::Allocation,
        Self::Reversal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpeningBalance => "opening_balance",
            Self::Donation => "donation",
            Self::Disbursement => "disbursement",
            Self::Allocation => "allocation",
            Self::Reversal => "reversal",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One side of an entry before it is stored: an account of the entry's fund and a signed amount
/// in minor units (positive adds to the account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub account: AccountKind,
    pub asset: String,
    /// The earmark of the money (see [`Designation`]); empty for unrestricted money.
    pub designation: String,
    pub amount: i64,
}

impl Leg {
    /// A leg on unrestricted money.
    pub fn new(account: AccountKind, asset: &str, amount: i64) -> Self {
        Self {
            account,
            asset: asset.to_owned(),
            designation: String::new(),
            amount,
        }
    }
}

/// A donor's earmark: what the money may be spent on. Its text form (the `designation` of an
/// account) lists the parts present, in this order, separated by `;`:
/// `incident=<id>;unit=<edition>:<code>;household=<id>;purpose=<text>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Designation {
    pub incident: Option<String>,
    pub unit: Option<(i32, String)>,
    pub household: Option<String>,
    pub purpose: Option<String>,
}

impl Designation {
    pub fn is_unrestricted(&self) -> bool {
        *self == Self::default()
    }

    pub fn key(&self) -> String {
        let mut parts = Vec::new();
        if let Some(i) = &self.incident {
            parts.push(format!("incident={i}"));
        }
        if let Some((e, c)) = &self.unit {
            parts.push(format!("unit={e}:{c}"));
        }
        if let Some(h) = &self.household {
            parts.push(format!("household={h}"));
        }
        if let Some(p) = &self.purpose {
            parts.push(format!("purpose={}", p.replace(';', ",")));
        }
        parts.join(";")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("an entry needs at least two postings")]
    TooFewPostings,
    #[error("a posting amount must not be zero")]
    ZeroAmount,
    #[error("the postings of asset {0} do not sum to zero")]
    Unbalanced(String),
    #[error("the available balance of {asset} is {available}, less than {needed}")]
    Overdraft {
        asset: String,
        available: i64,
        needed: i64,
    },
    #[error("the amount overflows")]
    Overflow,
    #[error("the hold is already {0}")]
    HoldResolved(&'static str),
    #[error("the amount to post exceeds the hold")]
    ExceedsHold,
}

/// Checks that an entry's legs balance: two or more, none zero, summing to zero per asset.
pub fn check_legs(legs: &[Leg]) -> Result<(), LedgerError> {
    if legs.len() < 2 {
        return Err(LedgerError::TooFewPostings);
    }
    let mut sums: BTreeMap<&str, i128> = BTreeMap::new();
    for leg in legs {
        if leg.amount == 0 {
            return Err(LedgerError::ZeroAmount);
        }
        *sums.entry(&leg.asset).or_default() += i128::from(leg.amount);
    }
    match sums.into_iter().find(|(_, s)| *s != 0) {
        Some((asset, _)) => Err(LedgerError::Unbalanced(asset.to_owned())),
        None => Ok(()),
    }
}

/// The legs that undo an entry: the same accounts with opposite amounts.
pub fn reversal_legs(legs: &[Leg]) -> Result<Vec<Leg>, LedgerError> {
    legs.iter()
        .map(|l| {
            Ok(Leg {
                account: l.account,
                asset: l.asset.clone(),
                designation: l.designation.clone(),
                amount: l.amount.checked_neg().ok_or(LedgerError::Overflow)?,
            })
        })
        .collect()
}

/// An account's balance: what is posted, and how much of it is reserved by pending holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balance {
    pub posted: i64,
    pub reserved: i64,
}

impl Balance {
    pub fn available(&self) -> i64 {
        self.posted.saturating_sub(self.reserved)
    }

    /// Adds `delta` to the posted amount; with `no_overdraft`, refuses to go below what is
    /// reserved.
    pub fn apply(
        &self,
        asset: &str,
        delta: i64,
        no_overdraft: bool,
    ) -> Result<Balance, LedgerError> {
        let posted = self
            .posted
            .checked_add(delta)
            .ok_or(LedgerError::Overflow)?;
        let next = Balance {
            posted,
            reserved: self.reserved,
        };
        if no_overdraft && delta < 0 && next.posted.checked_sub(next.reserved).is_none_or(|a| a < 0)
        {
            return Err(LedgerError::Overdraft {
                asset: asset.to_owned(),
                available: self.available(),
                needed: delta.checked_neg().unwrap_or(i64::MAX),
            });
        }
        Ok(next)
    }

    /// Reserves `amount` (positive) of the available balance.
    pub fn reserve(&self, asset: &str, amount: i64) -> Result<Balance, LedgerError> {
        if amount <= 0 {
            return Err(LedgerError::ZeroAmount);
        }
        if self.available() < amount {
            return Err(LedgerError::Overdraft {
                asset: asset.to_owned(),
                available: self.available(),
                needed: amount,
            });
        }
        Ok(Balance {
            posted: self.posted,
            reserved: self
                .reserved
                .checked_add(amount)
                .ok_or(LedgerError::Overflow)?,
        })
    }

    /// Releases a reservation of `amount` made earlier.
    pub fn release(&self, amount: i64) -> Result<Balance, LedgerError> {
        if amount <= 0 {
            return Err(LedgerError::ZeroAmount);
        }
        let reserved = self
            .reserved
            .checked_sub(amount)
            .filter(|r| *r >= 0)
            .ok_or(LedgerError::Overflow)?;
        Ok(Balance {
            posted: self.posted,
            reserved,
        })
    }
}

/// The state of a hold (a two-phase reservation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    Pending,
    Posted,
    Voided,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Posted => "posted",
            Self::Voided => "voided",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Posted, Self::Voided]
            .into_iter()
            .find(|h| h.as_str() == s)
    }

    /// A hold resolves (posts or voids) at most once.
    pub fn resolve(self, to: HoldStatus) -> Result<HoldStatus, LedgerError> {
        match self {
            Self::Pending if to != Self::Pending => Ok(to),
            Self::Pending => Err(LedgerError::HoldResolved("pending")),
            done => Err(LedgerError::HoldResolved(done.as_str())),
        }
    }
}

/// Checks the amount posted from a hold of `held`: positive and at most the hold.
pub fn check_post_amount(held: i64, post: i64) -> Result<(), LedgerError> {
    if post <= 0 {
        return Err(LedgerError::ZeroAmount);
    }
    if post > held {
        return Err(LedgerError::ExceedsHold);
    }
    Ok(())
}

/// The hash that starts every fund's chain: 32 zero bytes.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// The fields of a stored posting that its entry's hash covers.
#[derive(Debug, Clone)]
pub struct CanonicalPosting<'a> {
    pub account_id: &'a str,
    pub account_kind: &'a str,
    pub designation: &'a str,
    pub asset: &'a str,
    /// Signed, in the asset's minor units.
    pub amount: i64,
}

/// The fields of a stored entry that its hash covers. See ARCHITECTURE.md, "Hash chain".
#[derive(Debug, Clone)]
pub struct CanonicalEntry<'a> {
    pub fund_id: &'a str,
    pub seq: i64,
    pub entry_id: &'a str,
    pub kind: &'a str,
    pub effective_at: i64,
    pub recorded_at: i64,
    pub actor_id: &'a str,
    pub reason: &'a str,
    pub ref_type: &'a str,
    pub ref_id: &'a str,
    pub reverses_entry_id: &'a str,
    /// In posting order.
    pub postings: Vec<CanonicalPosting<'a>>,
}

fn field(out: &mut Vec<u8>, s: &str) {
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl CanonicalEntry<'_> {
    /// The canonical bytes: each field as a 4-byte big-endian length and its UTF-8 bytes;
    /// integers as decimal text.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        field(&mut out, "relief.entry.v1");
        field(&mut out, self.fund_id);
        field(&mut out, &self.seq.to_string());
        field(&mut out, self.entry_id);
        field(&mut out, self.kind);
        field(&mut out, &self.effective_at.to_string());
        field(&mut out, &self.recorded_at.to_string());
        field(&mut out, self.actor_id);
        field(&mut out, self.reason);
        field(&mut out, self.ref_type);
        field(&mut out, self.ref_id);
        field(&mut out, self.reverses_entry_id);
        field(&mut out, &self.postings.len().to_string());
        for p in &self.postings {
            field(&mut out, p.account_id);
            field(&mut out, p.account_kind);
            field(&mut out, p.designation);
            field(&mut out, p.asset);
            field(&mut out, &p.amount.to_string());
        }
        out
    }

    /// `SHA-256(prev_hash || canonical bytes)`.
    pub fn hash(&self, prev_hash: &[u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(prev_hash);
        h.update(self.bytes());
        h.finalize().into()
    }
}

/// Decodes a stored lowercase hex hash.
pub fn parse_hash(s: &str) -> Option<[u8; 32]> {
    let v = hex::decode(s).ok()?;
    v.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(account: AccountKind, asset: &str, amount: i64) -> Leg {
        Leg::new(account, asset, amount)
    }

    #[test]
    fn legs_must_balance_per_asset() {
        use AccountKind::*;
        assert!(check_legs(&[leg(Fund, "VND", 5), leg(Donations, "VND", -5)]).is_ok());
        assert_eq!(
            check_legs(&[leg(Fund, "VND", 5)]),
            Err(LedgerError::TooFewPostings)
        );
        assert_eq!(
            check_legs(&[leg(Fund, "VND", 5), leg(Donations, "USD", -5)]),
            Err(LedgerError::Unbalanced("USD".into()))
        );
        assert_eq!(
            check_legs(&[leg(Fund, "VND", 0), leg(Donations, "VND", 0)]),
            Err(LedgerError::ZeroAmount)
        );
        assert!(check_legs(&[
            leg(Fund, "VND", i64::MAX),
            leg(Fund, "VND", i64::MAX),
            leg(Donations, "VND", i64::MIN),
            leg(Donations, "VND", i64::MIN + 2)
        ])
        .is_ok());
    }

    #[test]
    fn overdraft_counts_reservations() {
        let b = Balance {
            posted: 100,
            reserved: 60,
        };
        assert_eq!(b.available(), 40);
        assert!(b.apply("VND", -40, true).is_ok());
        assert!(matches!(
            b.apply("VND", -41, true),
            Err(LedgerError::Overdraft {
                available: 40,
                needed: 41,
                ..
            })
        ));
        assert!(b.apply("VND", -1000, false).is_ok());
        assert!(b.reserve("VND", 41).is_err());
        assert_eq!(b.reserve("VND", 40).unwrap().available(), 0);
        assert_eq!(b.release(60).unwrap().available(), 100);
        assert!(b.release(61).is_err());
    }

    #[test]
    fn holds_resolve_once() {
        let p = HoldStatus::Pending.resolve(HoldStatus::Posted).unwrap();
        assert_eq!(p, HoldStatus::Posted);
        assert!(p.resolve(HoldStatus::Voided).is_err());
        assert!(HoldStatus::Voided.resolve(HoldStatus::Posted).is_err());
    }

    fn posting(amount: i64) -> CanonicalPosting<'static> {
        CanonicalPosting {
            account_id: "acc",
            account_kind: "fund",
            designation: "",
            asset: "VND",
            amount,
        }
    }

    #[test]
    fn designation_keys_are_canonical() {
        assert_eq!(Designation::default().key(), "");
        let d = Designation {
            incident: Some("i1".into()),
            unit: Some((2025, "C21583".into())),
            household: None,
            purpose: Some("rice; water".into()),
        };
        assert_eq!(d.key(), "incident=i1;unit=2025:C21583;purpose=rice, water");
    }

    #[test]
    fn canonical_bytes_are_length_prefixed() {
        let e = CanonicalEntry {
            fund_id: "f",
            seq: 1,
            entry_id: "e",
            kind: "donation",
            effective_at: 0,
            recorded_at: 0,
            actor_id: "a",
            reason: "r",
            ref_type: "",
            ref_id: "",
            reverses_entry_id: "",
            postings: vec![posting(5)],
        };
        let b = e.bytes();
        assert_eq!(&b[..4], &15u32.to_be_bytes());
        assert_eq!(&b[4..19], b"relief.entry.v1");
        let h1 = e.hash(&GENESIS_HASH);
        // The known answer documented in ARCHITECTURE.md, "Hash chain".
        assert_eq!(
            hex::encode(h1),
            "6f308777034fa1301d844858333bbf0aba9d8bf222bd592a86ba686a07fd90c2"
        );
        let mut e2 = e.clone();
        e2.postings = vec![posting(6)];
        assert_ne!(h1, e2.hash(&GENESIS_HASH));
        assert_ne!(h1, e.hash(&h1));
    }
}
