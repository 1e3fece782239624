//! `cargo xtask check` against a real local index (pypiserver seeded with real distributions),
//! directly and through the fault-injecting proxy; and the harness those tests stand on.

mod support;

use std::time::Duration;

use support::{
    proxy::{Fault, FaultProxy, Faults},
    pypiserver::{http_get_status, seed, PypiServer},
};

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap()
}

#[test]
fn harness_serves_real_uploads_and_injects_faults() {
    let server = PypiServer::start();
    assert_eq!(http_get_status(server.port(), "/llama-index-core/json"), Some(404));
    seed(&server, "llama-index-core", &["0.14.12"]);
    let mut files: Vec<String> =
        std::fs::read_dir(server.package_dir()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["llama_index_core-0.14.12-py3-none-any.whl", "llama_index_core-0.14.12.tar.gz"]);

    let proxy = FaultProxy::start(&server.index_url(), Faults::share(1, 2, Fault::Status500));
    let port = port_of(&proxy.url());
    assert_eq!(http_get_status(port, "/llama-index-core/json"), Some(500));
    assert_eq!(http_get_status(port, "/llama-index-core/json"), Some(200));
    assert_eq!(http_get_status(port, "/llama-index-core/json"), Some(500));
    proxy.set_faults(Faults::first(1, Fault::Reset));
    assert_eq!(http_get_status(port, "/llama-index-core/json"), None, "reset");
    assert_eq!(http_get_status(port, "/llama-index-core/json"), Some(200));
    proxy.set_faults(Faults::all(Fault::Stall(Duration::from_secs(8))));
    let start = std::time::Instant::now();
    assert_eq!(http_get_status(port, "/llama-index-core/json"), None, "stall");
    assert!(start.elapsed() >= Duration::from_secs(4), "the stall outlasts the 5 s read timeout of the probe");
    assert_eq!(proxy.requests(), 6);
}
