//! Compiles `proto/vigo/v1/*.proto` with protox (pure Rust): no system `protoc` needed.
//! Also writes `methods.rs`: one constant per RPC of each service, the name both sides
//! sign a request for (`SignedRequest` covers it), so neither side spells it by hand.

use std::fmt::Write as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = ["vigo/v1/agent.proto"];
    let fds = protox::compile(files, [&root])?;
    write_method_names(&fds)?;
    // The `transport` feature adds the tonic client and server; without it only the
    // prost messages are generated, and nothing in them names tonic.
    let transport = std::env::var_os("CARGO_FEATURE_TRANSPORT").is_some();
    tonic_prost_build::configure()
        // Deterministic encoding: maps as BTreeMap, so a bundle's bytes depend only on
        // its content (the server signs them once per match block).
        .btree_map(".")
        .build_server(transport)
        .build_client(transport)
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}

/// `$OUT_DIR/methods.rs`: `pub const CHECK_IN: &str = "CheckIn";` for every method.
fn write_method_names(
    fds: &prost_types::FileDescriptorSet,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut out = String::new();
    for file in &fds.file {
        for service in &file.service {
            for method in &service.method {
                let name = method.name();
                writeln!(
                    out,
                    "/// `{}.{}/{name}`.\npub const {}: &str = \"{name}\";",
                    file.package(),
                    service.name(),
                    screaming_snake(name)
                )?;
            }
        }
    }
    let path = std::path::Path::new(&std::env::var("OUT_DIR")?).join("methods.rs");
    std::fs::write(path, out)?;
    Ok(())
}

/// `CheckIn` → `CHECK_IN`.
fn screaming_snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}
