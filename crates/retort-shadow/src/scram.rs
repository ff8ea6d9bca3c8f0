//! The SCRAM half of the `scram-argon2` mode, as pure functions (no I/O).
//!
//! It follows RFC 5802 / RFC 7677 with argon2id in place of PBKDF2:
//!
//! ```text
//! SaltedPassword  = argon2id(password, salt, m, t, p)          (32 bytes)
//! ClientKey       = HMAC-SHA-256(SaltedPassword, "Client Key")
//! StoredKey       = SHA-256(ClientKey)                          (stored by the database)
//! ServerKey       = HMAC-SHA-256(SaltedPassword, "Server Key")  (stored by the database)
//! ClientSignature = HMAC-SHA-256(StoredKey, AuthMessage)
//! ClientProof     = ClientKey XOR ClientSignature               (sent; useless without the nonce)
//! ServerSignature = HMAC-SHA-256(ServerKey, AuthMessage)        (returned; proves the store)
//! ```
//!
//! `AuthMessage` binds the user name, both nonces, the salt and the parameters
//! ([`auth_message`]); the database builds the same bytes in `finish_login`.

use argon2::{Algorithm, Argon2, Version};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::ShadowError;

type HmacSha256 = Hmac<Sha256>;

/// Length of every key and signature (SHA-256).
pub const KEY_LEN: usize = 32;
/// Length of a fresh salt.
pub const SALT_LEN: usize = 16;
/// Length of a fresh client nonce.
pub const NONCE_LEN: usize = 18;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Parallelism (lanes).
    pub p: u32,
}

impl Argon2Params {
    /// OWASP's password storage guidance for argon2id: 19 MiB of memory, 2 iterations, 1 lane.
    pub const OWASP: Argon2Params = Argon2Params {
        m_kib: 19 * 1024,
        t: 2,
        p: 1,
    };

    /// True when any parameter is below `policy` (the verifier should be replaced).
    pub fn weaker_than(&self, policy: &Argon2Params) -> bool {
        self.m_kib < policy.m_kib || self.t < policy.t || self.p < policy.p
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Argon2Params::OWASP
    }
}

/// What the database stores for a user: salt, parameters, StoredKey and ServerKey.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    /// The argon2id salt.
    pub salt: Vec<u8>,
    /// The argon2id parameters the keys were derived with.
    pub params: Argon2Params,
    /// SHA-256(ClientKey).
    pub stored_key: [u8; KEY_LEN],
    /// HMAC(SaltedPassword, "Server Key").
    pub server_key: [u8; KEY_LEN],
}

impl ScramVerifier {
    /// (m, t, p) as the store's integer columns take them (the store's policy bounds them).
    pub fn params_i32(&self) -> (i32, i32, i32) {
        let c = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        (c(self.params.m_kib), c(self.params.t), c(self.params.p))
    }
}

impl std::fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramVerifier")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// The secret every other key comes from; wiped on drop.
pub struct SaltedPassword(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for SaltedPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SaltedPassword(***)")
    }
}

/// `argon2id(password, salt, params)`. Fails only on parameters argon2 rejects (e.g. a salt
/// shorter than 8 bytes or memory below 8 KiB per lane).
pub fn salted_password(
    password: &SecretString,
    salt: &[u8],
    params: Argon2Params,
) -> Result<SaltedPassword, ShadowError> {
    let p = argon2::Params::new(params.m_kib, params.t, params.p, Some(KEY_LEN))
        .map_err(|e| ShadowError::Parameters(e.to_string()))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    argon
        .hash_password_into(password.expose_secret().as_bytes(), salt, out.as_mut())
        .map_err(|e| ShadowError::Parameters(e.to_string()))?;
    Ok(SaltedPassword(out))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; KEY_LEN] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn client_key(salted: &SaltedPassword) -> Zeroizing<[u8; KEY_LEN]> {
    Zeroizing::new(hmac(salted.0.as_ref(), b"Client Key"))
}

/// The verifier to store for `salted` (derived with `salt` and `params`).
pub fn verifier(salted: &SaltedPassword, salt: &[u8], params: Argon2Params) -> ScramVerifier {
    let ck = client_key(salted);
    ScramVerifier {
        salt: salt.to_vec(),
        params,
        stored_key: Sha256::digest(ck.as_ref()).into(),
        server_key: hmac(salted.0.as_ref(), b"Server Key"),
    }
}

/// The bytes both sides sign: user, nonces, salt and parameters, each unambiguous (hex).
pub fn auth_message(
    username: &str,
    client_nonce: &[u8],
    server_nonce: &[u8],
    salt: &[u8],
    params: Argon2Params,
) -> Vec<u8> {
    format!(
        "retort-shadow-v1,u={},c={},s={},salt={},m={},t={},p={}",
        hex(username.as_bytes()),
        hex(client_nonce),
        hex(server_nonce),
        hex(salt),
        params.m_kib,
        params.t,
        params.p
    )
    .into_bytes()
}

/// ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage).
pub fn client_proof(salted: &SaltedPassword, auth_message: &[u8]) -> [u8; KEY_LEN] {
    let ck = client_key(salted);
    let stored: [u8; KEY_LEN] = Sha256::digest(ck.as_ref()).into();
    let sig = hmac(&stored, auth_message);
    let mut proof = [0u8; KEY_LEN];
    for (i, b) in proof.iter_mut().enumerate() {
        *b = ck[i] ^ sig[i];
    }
    proof
}

/// True when `signature` is the ServerSignature for `auth_message` (compared in constant time).
pub fn verify_server_signature(
    salted: &SaltedPassword,
    auth_message: &[u8],
    signature: &[u8],
) -> bool {
    let server_key = hmac(salted.0.as_ref(), b"Server Key");
    let expected = hmac(&server_key, auth_message);
    expected.ct_eq(signature).into()
}

/// The database's side of the check, for tests and for servers that keep verifiers elsewhere:
/// true when `proof` answers `auth_message` for `stored_key`.
pub fn verify_proof(stored_key: &[u8; KEY_LEN], auth_message: &[u8], proof: &[u8]) -> bool {
    if proof.len() != KEY_LEN {
        return false;
    }
    let sig = hmac(stored_key, auth_message);
    let mut ck = Zeroizing::new([0u8; KEY_LEN]);
    for (i, b) in ck.iter_mut().enumerate() {
        *b = proof[i] ^ sig[i];
    }
    let candidate: [u8; KEY_LEN] = Sha256::digest(ck.as_ref()).into();
    candidate.ct_eq(stored_key).into()
}

/// `n` random bytes from the operating system.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, ShadowError> {
    let mut out = vec![0u8; n];
    getrandom::fill(&mut out).map_err(|e| ShadowError::Random(e.to_string()))?;
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: Argon2Params = Argon2Params {
        m_kib: 64,
        t: 1,
        p: 1,
    };

    fn pw(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn a_proof_from_the_right_password_verifies_and_a_wrong_one_does_not() {
        let salt = [7u8; SALT_LEN];
        let salted = salted_password(&pw("hunter2"), &salt, CHEAP).unwrap();
        let v = verifier(&salted, &salt, CHEAP);
        let msg = auth_message("alice", b"cn", b"sn", &salt, CHEAP);
        let proof = client_proof(&salted, &msg);
        assert!(verify_proof(&v.stored_key, &msg, &proof));

        let wrong = salted_password(&pw("hunter3"), &salt, CHEAP).unwrap();
        assert!(!verify_proof(
            &v.stored_key,
            &msg,
            &client_proof(&wrong, &msg)
        ));
        // The same proof does not answer another nonce.
        let other = auth_message("alice", b"cn", b"sn2", &salt, CHEAP);
        assert!(!verify_proof(&v.stored_key, &other, &proof));
        assert!(!verify_proof(&v.stored_key, &msg, &proof[..31]));
    }

    #[test]
    fn server_signature_proves_the_server_key() {
        let salt = [1u8; SALT_LEN];
        let salted = salted_password(&pw("pw"), &salt, CHEAP).unwrap();
        let v = verifier(&salted, &salt, CHEAP);
        let msg = auth_message("bob", b"a", b"b", &salt, CHEAP);
        let sig = hmac(&v.server_key, &msg);
        assert!(verify_server_signature(&salted, &msg, &sig));
        let mut forged = sig;
        forged[0] ^= 1;
        assert!(!verify_server_signature(&salted, &msg, &forged));
    }

    #[test]
    fn argon2id_is_deterministic_and_uses_every_input() {
        let a = salted_password(&pw("password"), b"somesalt", CHEAP).unwrap();
        let b = salted_password(&pw("password"), b"somesalt", CHEAP).unwrap();
        assert_eq!(a.0.as_ref(), b.0.as_ref());
        let c = salted_password(&pw("password"), b"somesalT", CHEAP).unwrap();
        assert_ne!(a.0.as_ref(), c.0.as_ref());
        let d =
            salted_password(&pw("password"), b"somesalt", Argon2Params { t: 2, ..CHEAP }).unwrap();
        assert_ne!(a.0.as_ref(), d.0.as_ref());
    }

    #[test]
    fn auth_message_is_unambiguous() {
        let a = auth_message("a,c=1", b"", b"", b"s", CHEAP);
        let b = auth_message("a", b"\x01", b"", b"s", CHEAP);
        assert_ne!(a, b);
        assert_eq!(
            String::from_utf8(auth_message("é", &[0xff], &[0], &[1, 2], CHEAP)).unwrap(),
            "retort-shadow-v1,u=c3a9,c=ff,s=00,salt=0102,m=64,t=1,p=1"
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let salted = salted_password(&pw("pw"), &[0u8; 16], CHEAP).unwrap();
        assert_eq!(format!("{salted:?}"), "SaltedPassword(***)");
        let v = verifier(&salted, &[0u8; 16], CHEAP);
        assert!(!format!("{v:?}").contains("stored_key"));
    }

    #[test]
    fn weaker_than_compares_each_parameter() {
        let policy = Argon2Params::OWASP;
        assert!(!policy.weaker_than(&policy));
        assert!(Argon2Params { t: 1, ..policy }.weaker_than(&policy));
        assert!(Argon2Params {
            m_kib: 1024,
            ..policy
        }
        .weaker_than(&policy));
        assert!(!Argon2Params { t: 3, ..policy }.weaker_than(&policy));
    }
}
