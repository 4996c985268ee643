//! Who is asking, and what they may do. Passwords are hashed with argon2id; session cookies and
//! API tokens are 256-bit random secrets stored as their SHA-256 (a secret that cannot be guessed
//! needs no slow hash, and a stolen database holds no usable credential).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use copernic_core::engage::{Case, Role, Team, User};
use sha2::{Digest, Sha256};

/// Hashes a password for storage (PHC string).
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| format!("no randomness for a salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the stored hash (in constant time, by argon2's verifier).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks that a configured hash is a PHC string argon2 can read.
pub fn check_hash(hash: &str) -> Result<(), String> {
    PasswordHash::new(hash).map(|_| ()).map_err(|e| {
        format!(
            "password_hash is not an argon2 PHC string ({e}); make one with `copernic users hash`"
        )
    })
}

/// A new secret for a session or API token: `cpn_` and 64 hex digits.
pub fn new_secret() -> Result<String, String> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).map_err(|e| format!("no randomness for a token: {e}"))?;
    let mut s = String::from("cpn_");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    Ok(s)
}

/// What is stored of a secret.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The caller of a request.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: User,
}

impl Principal {
    /// Stands for everyone while no user exists (a fresh install, the demo): the first
    /// `copernic users add` or `apply` turns access control on.
    pub fn open_install() -> Principal {
        Principal {
            user: User {
                name: "local".into(),
                display_name: None,
                email: None,
                role: Role::Admin,
                teams: Vec::new(),
                languages: Vec::new(),
                channels: Vec::new(),
                capacity: 0,
                available: false,
            },
        }
    }

    pub fn name(&self) -> &str {
        &self.user.name
    }

    pub fn role(&self) -> Role {
        self.user.role
    }

    /// Whether the role is at least `r`.
    pub fn at_least(&self, r: Role) -> bool {
        self.user.role >= r
    }

    /// The private teams whose cases this user may see (`None`: all).
    pub fn visible_private(&self) -> Option<Vec<String>> {
        (self.user.role != Role::Admin).then(|| self.user.teams.clone())
    }

    /// Whether the user may read a case: admins always; others unless the case's team is
    /// private and they are not in it.
    pub fn can_see(&self, case: &Case, teams: &[Team]) -> bool {
        if self.user.role == Role::Admin {
            return true;
        }
        match &case.team {
            Some(t) => {
                let private = teams.iter().any(|x| &x.name == t && x.private);
                !private || self.user.teams.contains(t)
            }
            None => true,
        }
    }

    /// Whether the user may change a case (reply, note, status): an agent only in their teams
    /// (or a case without a team, or one assigned to them); supervisors on what they can see.
    pub fn can_work(&self, case: &Case, teams: &[Team]) -> bool {
        if !self.can_see(case, teams) {
            return false;
        }
        match self.user.role {
            Role::Admin | Role::Supervisor => true,
            Role::Agent => {
                case.assignee.as_deref() == Some(self.name())
                    || case
                        .team
                        .as_ref()
                        .is_none_or(|t| self.user.teams.contains(t))
            }
            Role::Viewer => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_round_trip_and_differ_by_salt() {
        let a = hash_password("s3cret").unwrap();
        let b = hash_password("s3cret").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &a));
        assert!(!verify_password("S3cret", &a));
        assert!(!verify_password("s3cret", "not a hash"));
        assert!(check_hash(&a).is_ok());
        assert!(check_hash("plain").is_err());
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = new_secret().unwrap();
        assert_eq!(a.len(), 4 + 64);
        assert_ne!(a, new_secret().unwrap());
        assert_eq!(secret_hash(&a).len(), 32);
    }
}
