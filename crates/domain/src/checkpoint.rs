//! Signed checkpoints: an Ed25519 signature over a fund's chain head (seq and hash) at a time.
//! An auditor who saved a checkpoint can later prove that the history up to it was not rewritten,
//! even by someone who can change the database and recompute every hash after the fact.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The bytes a checkpoint signs: one line per field, in this order (see ARCHITECTURE.md).
pub fn message(fund_id: &str, seq: i64, hash: &str, signed_at: i64) -> Vec<u8> {
    format!("relief.checkpoint.v1\n{fund_id}\n{seq}\n{hash}\n{signed_at}\n").into_bytes()
}

/// The service's checkpoint key.
pub struct CheckpointKey {
    key: SigningKey,
}

impl CheckpointKey {
    /// From a 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// A new random seed.
    pub fn generate_seed() -> [u8; 32] {
        rand::random()
    }

    /// The public key, lowercase hex.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// A short id of the public key: the first 16 hex digits of its SHA-256.
    pub fn key_id(&self) -> String {
        key_id(&self.key.verifying_key().to_bytes())
    }

    /// The signature of a chain head, lowercase hex.
    pub fn sign(&self, fund_id: &str, seq: i64, hash: &str, signed_at: i64) -> String {
        let sig = self.key.sign(&message(fund_id, seq, hash, signed_at));
        hex::encode(sig.to_bytes())
    }
}

/// The id of a public key: the first 16 hex digits of its SHA-256.
pub fn key_id(public_key: &[u8; 32]) -> String {
    let mut id = hex::encode(Sha256::digest(public_key));
    id.truncate(16);
    id
}

/// Whether `signature_hex` is a valid signature of the chain head by `public_key_hex`.
pub fn verify(
    public_key_hex: &str,
    fund_id: &str,
    seq: i64,
    hash: &str,
    signed_at: i64,
    signature_hex: &str,
) -> bool {
    let Some(pk) = hex::decode(public_key_hex)
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
    else {
        return false;
    };
    let Some(sig) = hex::decode(signature_hex)
        .ok()
        .and_then(|v| <[u8; 64]>::try_from(v).ok())
    else {
        return false;
    };
    let Ok(pk) = VerifyingKey::from_bytes(&pk) else {
        return false;
    };
    pk.verify_strict(
        &message(fund_id, seq, hash, signed_at),
        &Signature::from_bytes(&sig),
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_bind_every_field() {
        let key = CheckpointKey::from_seed(&[7; 32]);
        let pk = key.public_key_hex();
        let h = "ab".repeat(32);
        let sig = key.sign("f1", 10, &h, 1_000);
        assert!(verify(&pk, "f1", 10, &h, 1_000, &sig));
        assert!(!verify(&pk, "f2", 10, &h, 1_000, &sig));
        assert!(!verify(&pk, "f1", 11, &h, 1_000, &sig));
        assert!(!verify(&pk, "f1", 10, &"cd".repeat(32), 1_000, &sig));
        assert!(!verify(&pk, "f1", 10, &h, 1_001, &sig));
        let other = CheckpointKey::from_seed(&[8; 32]);
        assert!(!verify(&other.public_key_hex(), "f1", 10, &h, 1_000, &sig));
        assert_eq!(key.key_id().len(), 16);
    }

    /// RFC 8032, section 7.1, test 1: the empty message.
    #[test]
    fn rfc8032_known_answer() {
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let key = SigningKey::from_bytes(&seed);
        assert_eq!(
            hex::encode(key.verifying_key().to_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            hex::encode(key.sign(b"").to_bytes()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }
}
