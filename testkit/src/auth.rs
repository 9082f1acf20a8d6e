//! NATS identities made at test time with the `nkeys` crate: a user nkey for
//! nkey authentication, and a decentralized-auth setup (operator, account and
//! user JWTs, each signed by its issuer's nkey) for `.creds` files.
//!
//! nats-server 2.9 ships without `nsc`, so the JWTs are written here: the
//! header `{"typ":"JWT","alg":"ed25519-nkey"}`, the claims of nats-io/jwt v2
//! (`jti`, `iat`, `iss`, `sub`, `name`, `nats: {type, version: 2, ...}`), and
//! an Ed25519 signature by the issuer over `header.claims`, each part
//! base64url without padding. The server runs `resolver: MEMORY` with the
//! account JWT preloaded ([`OperatorSetup::server_config`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nkeys::KeyPair;
use serde_json::json;

/// A user nkey: the server is configured with [`NkeyUser::public_key`], the
/// client authenticates with [`NkeyUser::seed`].
#[derive(Debug, Clone)]
pub struct NkeyUser {
    seed: String,
    public_key: String,
}

impl NkeyUser {
    /// A fresh random user nkey.
    pub fn generate() -> NkeyUser {
        let pair = KeyPair::new_user();
        NkeyUser {
            seed: pair.seed().expect("a generated key pair has a seed"),
            public_key: pair.public_key(),
        }
    }

    /// The seed (`SU...`): the secret a client signs the server's nonce with.
    pub fn seed(&self) -> &str {
        &self.seed
    }

    /// The public key (`U...`) the server accepts.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }
}

/// An operator, one account it signed and one user the account signed, with
/// the user's `.creds` file; plus a second user signed by an account the
/// server does not know, for the negative case.
#[derive(Debug, Clone)]
pub struct OperatorSetup {
    operator_jwt: String,
    account_public_key: String,
    account_jwt: String,
    creds_file: PathBuf,
    foreign_creds_file: PathBuf,
    user_seed: String,
}

impl OperatorSetup {
    /// Generates the keys and JWTs and writes `user.creds` and
    /// `foreign.creds` into `dir`.
    pub fn generate(dir: &Path) -> OperatorSetup {
        let operator = KeyPair::new_operator();
        let account = KeyPair::new_account();
        let user = KeyPair::new_user();
        let operator_jwt = sign(
            &operator,
            &operator.public_key(),
            "natsbridge-test-operator",
            json!({"type": "operator", "version": 2}),
        );
        let account_jwt = sign(
            &operator,
            &account.public_key(),
            "natsbridge-test-account",
            json!({
                "limits": {
                    "subs": -1, "data": -1, "payload": -1, "imports": -1,
                    "exports": -1, "wildcards": true, "conn": -1, "leaf": -1
                },
                "default_permissions": {"pub": {}, "sub": {}},
                "type": "account",
                "version": 2
            }),
        );
        let user_claims = json!({
            "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
            "type": "user", "version": 2
        });
        let user_jwt = sign(
            &account,
            &user.public_key(),
            "natsbridge-test-user",
            user_claims.clone(),
        );
        // A user of an account the server never heard of: well formed,
        // correctly signed, and still refused.
        let stranger_account = KeyPair::new_account();
        let stranger = KeyPair::new_user();
        let stranger_jwt = sign(
            &stranger_account,
            &stranger.public_key(),
            "natsbridge-test-stranger",
            user_claims,
        );
        let user_seed = user.seed().expect("a generated key pair has a seed");
        let creds_file = dir.join("user.creds");
        std::fs::write(&creds_file, creds(&user_jwt, &user_seed)).expect("write user.creds");
        let foreign_creds_file = dir.join("foreign.creds");
        let stranger_seed = stranger.seed().expect("a generated key pair has a seed");
        std::fs::write(&foreign_creds_file, creds(&stranger_jwt, &stranger_seed))
            .expect("write foreign.creds");
        OperatorSetup {
            operator_jwt,
            account_public_key: account.public_key(),
            account_jwt,
            creds_file,
            foreign_creds_file,
            user_seed,
        }
    }

    /// The `.creds` file of the account's user (JWT and seed).
    pub fn creds_file(&self) -> &Path {
        &self.creds_file
    }

    /// A `.creds` file of a user whose account the server does not know.
    pub fn foreign_creds_file(&self) -> &Path {
        &self.foreign_creds_file
    }

    /// The user's nkey seed, the secret inside [`OperatorSetup::creds_file`]
    /// (for tests that check it never leaks).
    pub fn user_seed(&self) -> &str {
        &self.user_seed
    }

    /// The nats-server configuration lines: the operator JWT, `resolver:
    /// MEMORY` and the account JWT preloaded.
    pub fn server_config(&self) -> String {
        format!(
            "operator: {}\nresolver: MEMORY\nresolver_preload: {{\n  {}: {}\n}}\n",
            json!(self.operator_jwt),
            self.account_public_key,
            json!(self.account_jwt)
        )
    }
}

/// A JWT with `claims` under `nats`, issued by `issuer` for `subject`.
fn sign(issuer: &KeyPair, subject: &str, name: &str, nats: serde_json::Value) -> String {
    static JTI: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    let jti = format!(
        "NBTEST{}X{}X{}",
        std::process::id(),
        now,
        JTI.fetch_add(1, Ordering::Relaxed)
    );
    let header = json!({"typ": "JWT", "alg": "ed25519-nkey"});
    let claims = json!({
        "jti": jti,
        "iat": now,
        "iss": issuer.public_key(),
        "sub": subject,
        "name": name,
        "nats": nats,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = issuer
        .sign(signing_input.as_bytes())
        .expect("an nkey with a seed signs");
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The `.creds` file format nsc writes.
fn creds(jwt: &str, seed: &str) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n"
    )
}
