//! Property tests of the ledger rules in `domain::ledger`, driven through a small in-memory book
//! that applies them the way storage does.
//!
//! The book has 3 funds, each with one account of every `AccountKind` for two assets ("VND",
//! scale 0, and "RICE_KG"); amounts are minor units, so the scale plays no part. It keeps the
//! balances, the entries (legs, `reversed`, `is_reversal`) and the holds (fund, asset, amount,
//! status). Every operation is validated and staged with the public domain functions only
//! (`check_legs`, `reversal_legs`, `Balance::{apply, reserve, release}`, `HoldStatus::resolve`,
//! `check_post_amount`) and committed all-or-nothing, as one database transaction would be.
//! After every random operation we check: conservation per asset, no fund overdraft, a hold
//! resolves at most once, a failed operation changes nothing, reservations equal pending holds,
//! and posted balances equal a replay of the committed legs.

use domain::ledger::{
    check_legs, check_post_amount, reversal_legs, AccountKind, Balance, HoldStatus, LedgerError,
    Leg,
};
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::BTreeMap;
use AccountKind::{Donations, Fund, Opening, Payouts};

const FUNDS: usize = 3;
const ASSETS: [&str; 2] = ["VND", "RICE_KG"];

/// (fund, account kind, asset).
type Key = (usize, AccountKind, String);
/// Balances changed by a transaction that is not committed yet.
type Staged = BTreeMap<Key, Balance>;

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    fund: usize,
    legs: Vec<Leg>,
    reversed: bool,
    is_reversal: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Hold {
    fund: usize,
    asset: String,
    amount: i64,
    status: HoldStatus,
}

#[derive(Debug, Clone, PartialEq)]
enum OpError {
    Ledger(LedgerError),
    NoSuchHold,
    NoSuchEntry,
    AlreadyReversed,
    ReversalOfReversal,
}

impl From<LedgerError> for OpError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

#[derive(Debug, Clone)]
enum Op {
    Donate(usize, usize, i64),
    Pay(usize, usize, i64),
    Opening(usize, usize, i64),
    Reserve(usize, usize, i64),
    /// Hold index (modulo the number of holds); amount to post, or `None` for the whole hold.
    PostHold(usize, Option<i64>),
    VoidHold(usize),
    /// Entry index, modulo the number of entries.
    Reverse(usize),
}

#[derive(Debug, Clone, PartialEq)]
struct Book {
    balances: BTreeMap<Key, Balance>,
    entries: Vec<Entry>,
    holds: Vec<Hold>,
}

fn leg(account: AccountKind, asset: &str, amount: i64) -> Leg {
    Leg::new(account, asset, amount)
}

/// The legs moving `amount` of `asset` from account `from` to account `to`.
fn transfer(
    from: AccountKind,
    to: AccountKind,
    asset: &str,
    amount: i64,
) -> Result<Vec<Leg>, OpError> {
    let out = amount.checked_neg().ok_or(LedgerError::Overflow)?;
    Ok(vec![leg(to, asset, amount), leg(from, asset, out)])
}

impl Book {
    fn new() -> Self {
        let mut balances = BTreeMap::new();
        for fund in 0..FUNDS {
            for kind in AccountKind::ALL {
                for asset in ASSETS {
                    balances.insert((fund, kind, asset.to_owned()), Balance::default());
                }
            }
        }
        Self {
            balances,
            entries: Vec::new(),
            holds: Vec::new(),
        }
    }

    fn current(&self, staged: &Staged, key: &Key) -> Balance {
        staged
            .get(key)
            .or_else(|| self.balances.get(key))
            .copied()
            .unwrap_or_default()
    }

    fn hold_index(&self, i: usize) -> Result<usize, OpError> {
        match self.holds.len() {
            0 => Err(OpError::NoSuchHold),
            n => Ok(i % n),
        }
    }

    /// Checks and stages `legs` on top of `staged`, then commits everything and records the entry.
    /// Nothing is written unless every step succeeds.
    fn record(
        &mut self,
        mut staged: Staged,
        fund: usize,
        legs: Vec<Leg>,
        is_reversal: bool,
    ) -> Result<(), OpError> {
        check_legs(&legs)?;
        for l in &legs {
            let key = (fund, l.account, l.asset.clone());
            let next =
                self.current(&staged, &key)
                    .apply(&l.asset, l.amount, l.account.no_overdraft())?;
            staged.insert(key, next);
        }
        self.balances.extend(staged);
        self.entries.push(Entry {
            fund,
            legs,
            reversed: false,
            is_reversal,
        });
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Result<(), OpError> {
        let mut staged = Staged::new();
        match *op {
            Op::Donate(f, a, x) => {
                self.record(staged, f, transfer(Donations, Fund, ASSETS[a], x)?, false)
            }
            Op::Pay(f, a, x) => {
                self.record(staged, f, transfer(Fund, Payouts, ASSETS[a], x)?, false)
            }
            Op::Opening(f, a, x) => {
                self.record(staged, f, transfer(Opening, Fund, ASSETS[a], x)?, false)
            }
            Op::Reserve(f, a, x) => {
                let key = (f, Fund, ASSETS[a].to_owned());
                let next = self.current(&staged, &key).reserve(ASSETS[a], x)?;
                self.balances.insert(key, next);
                self.holds.push(Hold {
                    fund: f,
                    asset: ASSETS[a].to_owned(),
                    amount: x,
                    status: HoldStatus::Pending,
                });
                Ok(())
            }
            Op::PostHold(i, post) => {
                let h = self.hold_index(i)?;
                let hold = self.holds[h].clone();
                let status = hold.status.resolve(HoldStatus::Posted)?;
                let post = post.unwrap_or(hold.amount);
                check_post_amount(hold.amount, post)?;
                let key = (hold.fund, Fund, hold.asset.clone());
                staged.insert(
                    key.clone(),
                    self.current(&staged, &key).release(hold.amount)?,
                );
                self.record(
                    staged,
                    hold.fund,
                    transfer(Fund, Payouts, &hold.asset, post)?,
                    false,
                )?;
                self.holds[h].status = status;
                Ok(())
            }
            Op::VoidHold(i) => {
                let h = self.hold_index(i)?;
                let hold = &self.holds[h];
                let status = hold.status.resolve(HoldStatus::Voided)?;
                let key = (hold.fund, Fund, hold.asset.clone());
                let next = self.current(&staged, &key).release(hold.amount)?;
                self.balances.insert(key, next);
                self.holds[h].status = status;
                Ok(())
            }
            Op::Reverse(i) => {
                let n = self.entries.len();
                let e = self.entries.get(i % n.max(1)).ok_or(OpError::NoSuchEntry)?;
                if e.is_reversal {
                    return Err(OpError::ReversalOfReversal);
                }
                if e.reversed {
                    return Err(OpError::AlreadyReversed);
                }
                let (fund, legs) = (e.fund, reversal_legs(&e.legs)?);
                self.record(staged, fund, legs, true)?;
                self.entries[i % n].reversed = true;
                Ok(())
            }
        }
    }
}

/// Properties 1, 2, 5 and 6, plus "one reversal per reversed entry".
fn check_invariants(book: &Book) -> Result<(), TestCaseError> {
    let mut replayed: BTreeMap<Key, i128> = BTreeMap::new();
    for e in &book.entries {
        for l in &e.legs {
            *replayed
                .entry((e.fund, l.account, l.asset.clone()))
                .or_default() += i128::from(l.amount);
        }
    }
    let mut pending: BTreeMap<Key, i128> = BTreeMap::new();
    for h in book
        .holds
        .iter()
        .filter(|h| h.status == HoldStatus::Pending)
    {
        *pending.entry((h.fund, Fund, h.asset.clone())).or_default() += i128::from(h.amount);
    }
    let mut totals: BTreeMap<&str, i128> = BTreeMap::new();
    for (key, b) in &book.balances {
        *totals.entry(&key.2).or_default() += i128::from(b.posted);
        let replay = replayed.get(key).copied().unwrap_or_default();
        prop_assert_eq!(
            i128::from(b.posted),
            replay,
            "posted of {:?} differs from its legs",
            key
        );
        let held = pending.get(key).copied().unwrap_or_default();
        prop_assert_eq!(
            i128::from(b.reserved),
            held,
            "reserved of {:?} differs from its pending holds",
            key
        );
        if key.1 == Fund {
            prop_assert!(
                b.reserved >= 0 && b.posted >= b.reserved,
                "{:?} overdrawn: {:?}",
                key,
                b
            );
            prop_assert!(b.available() >= 0);
        }
    }
    for (asset, total) in totals {
        prop_assert_eq!(total, 0, "{} is not conserved", asset);
    }
    let reversals = book.entries.iter().filter(|e| e.is_reversal).count();
    let reversed = book.entries.iter().filter(|e| e.reversed).count();
    prop_assert_eq!(reversals, reversed);
    Ok(())
}

/// Mostly ordinary amounts, which sometimes exceed the balances; now and then zero, negative or
/// i64-extreme ones.
fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        20 => 1i64..1_000,
        1 => prop_oneof![Just(0), Just(-1), Just(i64::MIN), Just(i64::MAX - 1), Just(i64::MAX)],
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let target = || (0..FUNDS, 0..ASSETS.len(), amount());
    prop_oneof![
        4 => target().prop_map(|(f, a, x)| Op::Donate(f, a, x)),
        3 => target().prop_map(|(f, a, x)| Op::Pay(f, a, x)),
        1 => target().prop_map(|(f, a, x)| Op::Opening(f, a, x)),
        3 => target().prop_map(|(f, a, x)| Op::Reserve(f, a, x)),
        3 => (any::<usize>(), prop::option::of(amount())).prop_map(|(i, x)| Op::PostHold(i, x)),
        2 => any::<usize>().prop_map(Op::VoidHold),
        2 => any::<usize>().prop_map(Op::Reverse),
    ]
}

/// A nonzero amount whose negation does not overflow.
fn nonzero() -> impl Strategy<Value = i64> {
    prop_oneof![1i64..=i64::MAX, (i64::MIN + 1)..0, 1i64..100]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn invariants_hold_after_every_operation(ops in prop::collection::vec(op(), 1..200)) {
        let mut book = Book::new();
        check_invariants(&book)?;
        for op in &ops {
            let before = book.clone();
            let resolving = match *op {
                Op::PostHold(i, _) | Op::VoidHold(i) => book.hold_index(i).ok(),
                _ => None,
            };
            let result = book.apply(op);
            if result.is_err() {
                prop_assert_eq!(&book, &before, "{:?} failed with {:?} but changed the book", op, result);
            }
            if let Some(h) = resolving {
                let was = before.holds[h].status;
                if was != HoldStatus::Pending {
                    prop_assert!(
                        matches!(result, Err(OpError::Ledger(LedgerError::HoldResolved(_)))),
                        "{:?} on a {:?} hold gave {:?}", op, was, result
                    );
                    prop_assert_eq!(book.holds[h].status, was);
                } else if result.is_ok() {
                    prop_assert_ne!(book.holds[h].status, HoldStatus::Pending);
                }
            }
            check_invariants(&book)?;
        }
    }

    #[test]
    fn an_entry_is_reversed_at_most_once(ops in prop::collection::vec(op(), 1..100)) {
        let mut book = Book::new();
        for op in &ops {
            let _ = book.apply(op);
        }
        for i in 0..book.entries.len() {
            let entry = book.entries[i].clone();
            let first = book.apply(&Op::Reverse(i));
            let second = book.apply(&Op::Reverse(i));
            if entry.is_reversal {
                prop_assert_eq!(&first, &Err(OpError::ReversalOfReversal));
            } else if entry.reversed {
                prop_assert_eq!(&first, &Err(OpError::AlreadyReversed));
            }
            match first {
                Ok(()) => prop_assert_eq!(second, Err(OpError::AlreadyReversed)),
                Err(e) => prop_assert_eq!(second, Err(e)),
            }
            check_invariants(&book)?;
        }
    }

    #[test]
    fn check_legs_rejects_unbalanced_legs(
        pairs in prop::collection::vec(
            (prop::sample::select(AccountKind::ALL.to_vec()), prop::sample::select(AccountKind::ALL.to_vec()), 0..ASSETS.len(), nonzero()),
            1..5,
        ),
        which in any::<Index>(),
        delta in prop_oneof![1i64..1_000, -1_000i64..0, Just(i64::MIN), Just(i64::MAX)],
    ) {
        let mut legs: Vec<Leg> = pairs
            .iter()
            .flat_map(|&(from, to, a, x)| [leg(to, ASSETS[a], x), leg(from, ASSETS[a], -x)])
            .collect();
        prop_assert_eq!(check_legs(&legs), Ok(()));
        let i = which.index(legs.len());
        // Wrapping still changes the amount, since |delta| < 2^64; so the asset's sum changes.
        legs[i].amount = legs[i].amount.wrapping_add(delta);
        let expected = match legs[i].amount {
            0 => LedgerError::ZeroAmount,
            _ => LedgerError::Unbalanced(legs[i].asset.clone()),
        };
        prop_assert_eq!(check_legs(&legs), Err(expected));
    }
}
