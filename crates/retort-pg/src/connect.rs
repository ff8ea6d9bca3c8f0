//! Opening a connection from a [`ConnConfig`], with TLS by rustls and errors that say what to do.

use std::sync::Arc;

use postgres::{Client, NoTls};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::conninfo::{ConnConfig, PasswordSource, SslMode, TargetSessionAttrs};
use crate::error::{error_chain, PgError, ServerMessage};

/// Opens a blocking connection.
///
/// TLS follows `sslmode` as libpq does: `prefer` and `require` encrypt without checking the
/// certificate, `verify-ca` checks the chain against `sslrootcert`, `verify-full` also the host
/// name. Unix-socket connections never use TLS.
///
/// Errors: [`PgError::Connect`] when nothing answers, [`PgError::Login`] when the server refuses
/// the login (wrong password, missing database, ...), [`PgError::Tls`] when the root certificate
/// cannot be read. Each carries a hint and none contains the password.
pub fn connect(cfg: &ConnConfig) -> Result<Client, PgError> {
    let pg = client_config(cfg);
    let all_sockets = cfg.hosts.iter().all(|h| h.starts_with('/'));
    let result = if all_sockets || cfg.sslmode == SslMode::Disable {
        pg.connect(NoTls)
    } else {
        let tls = tls_config(cfg)?;
        pg.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
    };
    result.map_err(|err| classify_connect_error(cfg, &err))
}

fn client_config(cfg: &ConnConfig) -> postgres::Config {
    let mut pg = postgres::Config::new();
    for (host, port) in cfg.hosts.iter().zip(&cfg.ports) {
        if host.starts_with('/') {
            pg.host_path(host);
        } else {
            pg.host(host);
        }
        pg.port(*port);
    }
    pg.user(&cfg.user).dbname(&cfg.dbname);
    if let Some(password) = &cfg.password {
        pg.password(password.expose());
    }
    if let Some(name) = &cfg.application_name {
        pg.application_name(name);
    }
    if let Some(options) = &cfg.options {
        pg.options(options);
    }
    pg.connect_timeout(cfg.connect_timeout);
    pg.ssl_mode(match cfg.sslmode {
        SslMode::Disable => postgres::config::SslMode::Disable,
        SslMode::Allow | SslMode::Prefer => postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            postgres::config::SslMode::Require
        }
    });
    pg.target_session_attrs(match cfg.target_session_attrs {
        TargetSessionAttrs::Any => postgres::config::TargetSessionAttrs::Any,
        TargetSessionAttrs::ReadWrite => postgres::config::TargetSessionAttrs::ReadWrite,
    });
    pg
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_config(cfg: &ConnConfig) -> Result<rustls::ClientConfig, PgError> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(cfg, e.to_string()))?;
    let verifier: Arc<dyn ServerCertVerifier> = match cfg.sslmode {
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let path = cfg.sslrootcert.as_ref().ok_or_else(|| {
                tls_error(
                    cfg,
                    format!(
                        "sslmode={} needs a root certificate, and none was given \
                         (sslrootcert, $PGSSLROOTCERT or ~/.postgresql/root.crt)",
                        cfg.sslmode.as_str()
                    ),
                )
            })?;
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| tls_error(cfg, format!("cannot read {}: {e}", path.display())))?;
            for cert in certs {
                let cert = cert
                    .map_err(|e| tls_error(cfg, format!("bad PEM in {}: {e}", path.display())))?;
                roots.add(cert).map_err(|e| {
                    tls_error(cfg, format!("bad certificate in {}: {e}", path.display()))
                })?;
            }
            if roots.is_empty() {
                return Err(tls_error(
                    cfg,
                    format!("{} holds no certificate", path.display()),
                ));
            }
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| tls_error(cfg, e.to_string()))?;
            Arc::new(Verifier {
                provider,
                webpki: Some(webpki),
                check_name: cfg.sslmode == SslMode::VerifyFull,
            })
        }
        _ => Arc::new(Verifier {
            provider,
            webpki: None,
            check_name: false,
        }),
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

fn tls_error(cfg: &ConnConfig, reason: String) -> PgError {
    PgError::Tls {
        target: cfg.target(),
        reason,
    }
}

/// libpq's three levels of trust in one verifier: none (`require`), chain (`verify-ca`),
/// chain and name (`verify-full`). Signatures are always checked, so the session is bound to
/// the certificate the server presented.
#[derive(Debug)]
struct Verifier {
    provider: Arc<CryptoProvider>,
    webpki: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn classify_connect_error(cfg: &ConnConfig, err: &postgres::Error) -> PgError {
    let target = cfg.target();
    if let Some(db) = err.as_db_error() {
        let server = ServerMessage::from_db_error(db);
        let hint = login_hint(cfg, &server.code);
        return PgError::Login {
            target,
            server: Box::new(server),
            hint,
        };
    }
    let reason = error_chain(err);
    let lower = reason.to_lowercase();
    let hint = if lower.contains("password missing") {
        "the server asks for a password and none was found: put it in the URL, in $PGPASSWORD, \
         or in ~/.pgpass (mode 0600)"
            .to_owned()
    } else if lower.contains("timed out") || lower.contains("timeout") {
        format!(
            "nothing answered within {}s: check the host name and port, that the server listens \
             on that address (listen_addresses), and any firewall; raise connect_timeout for slow links",
            cfg.connect_timeout.as_secs()
        )
    } else if lower.contains("tls") || lower.contains("certificate") || lower.contains("ssl") {
        format!(
            "the TLS handshake failed with sslmode={}: check sslrootcert and the server's \
             certificate, or that the server has ssl=on",
            cfg.sslmode.as_str()
        )
    } else if lower.contains("refused") || lower.contains("no such file") {
        "no server is listening there: start it (or `retort cluster start` for a local one), or \
         fix the host and port (URL, -d, $DATABASE_URL, $PGHOST, $PGPORT)"
            .to_owned()
    } else if lower.contains("lookup") || lower.contains("resolve") || lower.contains("name") {
        "the host name does not resolve: check its spelling".to_owned()
    } else {
        "check the host, port and that the server is up".to_owned()
    };
    PgError::Connect {
        target,
        reason,
        hint,
    }
}

fn login_hint(cfg: &ConnConfig, code: &str) -> String {
    match code {
        "28P01" => match &cfg.password_source {
            PasswordSource::ConnString => {
                format!(
                    "the password in the connection string is wrong for role {:?}",
                    cfg.user
                )
            }
            PasswordSource::Environment => {
                format!(
                    "the password in $PGPASSWORD is wrong for role {:?}",
                    cfg.user
                )
            }
            PasswordSource::PasswordFile { path, line } => format!(
                "the password from {} line {line} is wrong for role {:?}",
                path.display(),
                cfg.user
            ),
            PasswordSource::None => format!(
                "role {:?} needs a password: give it in the URL, $PGPASSWORD or ~/.pgpass",
                cfg.user
            ),
        },
        "28000" => format!(
            "the server has no pg_hba.conf entry allowing role {:?} into database {:?} from here, \
             or the role does not exist; ask the DBA or check the user name",
            cfg.user, cfg.dbname
        ),
        "3D000" => format!(
            "database {:?} does not exist: create it (createdb) or name another one in the URL",
            cfg.dbname
        ),
        "57P03" => "the server is starting up, shutting down or in recovery without hot standby; \
                    try again in a moment"
            .to_owned(),
        "53300" => "the server has no free connection slots; close idle sessions or raise \
                    max_connections"
            .to_owned(),
        _ => "see the server's message above".to_owned(),
    }
}
