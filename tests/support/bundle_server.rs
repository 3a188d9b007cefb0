//! An HTTPS server on loopback serving plan bundles, with a certificate made here (for
//! `RATER_PLAN_CA_FILE`); each path answers as its [`Behaviour`] says, and every request
//! is counted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// What the server answers on one path.
#[derive(Clone)]
pub enum Behaviour {
    /// 200 with these bytes and `ETag`; 304 when `If-None-Match` matches.
    Bundle(Vec<u8>, &'static str),
    Status(u16),
    Hang,
    Slow(Duration),
    Redirect(String),
    /// 200 with a body of this many bytes, chunked (no length).
    Chunked(usize),
}

#[derive(Default)]
pub struct Server {
    pub paths: Mutex<HashMap<String, Behaviour>>,
    pub hits: Mutex<HashMap<String, usize>>,
    /// The `Authorization` header of each request, in order.
    pub auth: Mutex<Vec<Option<String>>>,
    pub total: AtomicUsize,
}

impl Server {
    pub fn set(&self, path: &str, b: Behaviour) {
        self.paths.lock().unwrap().insert(path.to_owned(), b);
    }
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

pub struct Tls {
    pub server: Arc<Server>,
    pub addr: SocketAddr,
    pub ca_file: std::path::PathBuf,
}

async fn answer(server: Arc<Server>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    server.total.fetch_add(1, Ordering::SeqCst);
    *server.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    server.auth.lock().unwrap().push(
        req.headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned()),
    );
    let behaviour = server.paths.lock().unwrap().get(&path).cloned();
    let status = |code: u16| {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = hyper::StatusCode::from_u16(code).unwrap();
        r
    };
    match behaviour {
        None => status(404),
        Some(Behaviour::Bundle(bytes, etag)) => {
            if req
                .headers()
                .get("if-none-match")
                .is_some_and(|v| v == etag)
            {
                return status(304);
            }
            let mut r = Response::new(Full::new(Bytes::from(bytes)));
            r.headers_mut().insert("etag", etag.parse().unwrap());
            r
        }
        Some(Behaviour::Status(code)) => status(code),
        Some(Behaviour::Hang) => std::future::pending().await,
        Some(Behaviour::Slow(d)) => {
            tokio::time::sleep(d).await;
            Response::new(Full::new(Bytes::from_static(b"slow")))
        }
        Some(Behaviour::Redirect(to)) => {
            let mut r = status(302);
            r.headers_mut().insert("location", to.parse().unwrap());
            r
        }
        Some(Behaviour::Chunked(n)) => {
            // A `Full` body of known size would carry a length; strip it by hand below.
            let mut r = Response::new(Full::new(Bytes::from(vec![b'x'; n])));
            r.headers_mut()
                .insert("transfer-encoding", "chunked".parse().unwrap());
            r
        }
    }
}

/// An HTTPS server on 127.0.0.1 with a fresh self-signed certificate for `localhost` and
/// `127.0.0.1`, written as PEM for `RATER_PLAN_CA_FILE`.
pub async fn start_tls(name: &str) -> Tls {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let ca_file =
        std::env::temp_dir().join(format!("rater-fetch-{}-{name}.pem", std::process::id()));
    std::fs::write(&ca_file, cert.cert.pem()).unwrap();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    // Its own provider, no process-wide default: the rater must not depend on one.
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Arc::new(Server::default());
    let s = server.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let s = s.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| {
                    let s = s.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer(s, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Tls {
        server,
        addr,
        ca_file,
    }
}

/// A bundle of one plan `id` for `product`: `personal-auto` renamed, its roadside flat
/// rate set to `roadside` (so a test can tell bundles apart by price), its plan file passed
/// through `edit`.
pub fn plan_bundle(
    id: &str,
    product: &str,
    roadside: &str,
    edit: impl Fn(String) -> String,
) -> Vec<u8> {
    plan_bundle_with(id, product, roadside, edit, &[])
}

/// [`plan_bundle`] with extra files (`tests/000.request.json`...) in the plan folder.
pub fn plan_bundle_with(
    id: &str,
    product: &str,
    roadside: &str,
    edit: impl Fn(String) -> String,
    extra: &[(&str, Vec<u8>)],
) -> Vec<u8> {
    let root = std::env::temp_dir().join(format!(
        "rater-bundle-src-{}-{id}-{roadside}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&root);
    let dir = root.join(id);
    super::copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rating-tables/personal-auto"),
        &dir,
    );
    // The plan is changed below (its id, product, roadside rate): personal-auto's own test
    // cases no longer hold for it; a test that wants cases passes them in `extra`.
    let _ = std::fs::remove_dir_all(dir.join("tests"));
    let toml = std::fs::read_to_string(dir.join("plan.toml")).unwrap();
    let toml = toml
        .replace("id = \"personal-auto\"", &format!("id = \"{id}\""))
        .replace(
            "product = \"personal-auto\"",
            &format!("product = \"{product}\""),
        )
        .replace(
            "value = \"25\", label = \"flat rate\"",
            &format!("value = \"{roadside}\", label = \"flat rate\""),
        );
    std::fs::write(dir.join("plan.toml"), edit(toml)).unwrap();
    for (path, bytes) in extra {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
    rater::bundle::build(&[dir]).unwrap()
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A `.tar.gz` of one entry written byte by byte (paths and types `tar`'s builder refuses).
pub fn raw_tar_gz(path: &str, kind: tar::EntryType, data: &[u8], link: &str) -> Vec<u8> {
    use std::io::Write as _;
    let mut h = tar::Header::new_ustar();
    h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_cksum();
    let mut tar = h.as_bytes().to_vec();
    tar.extend_from_slice(data);
    tar.resize(tar.len().div_ceil(512) * 512 + 1024, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}
