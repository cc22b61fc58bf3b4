//! Compiles `proto/vigo/v1/*.proto` with protox (pure Rust): no system `protoc` needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = ["vigo/v1/agent.proto"];
    let fds = protox::compile(files, [&root])?;
    tonic_prost_build::configure()
        // Deterministic encoding: maps as BTreeMap, so a bundle's bytes depend only on
        // its content (the server signs them once per match block).
        .btree_map(".")
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}
