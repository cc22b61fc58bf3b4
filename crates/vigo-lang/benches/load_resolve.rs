//! Load + validate a generated stack of 500 configcrates / 10,000 resources, and resolve
//! 10,000 hostnames against 200 match blocks with the per-block bundle cache.
//!
//! `cargo bench -p vigo-lang --bench load_resolve`

use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigo_lang::SourceTree;
use vigo_lang::resolve::{BundleMeta, Resolver};

const CRATES: usize = 500;
const RESOURCES_PER_CRATE: usize = 20;
const ROLES: usize = 50;
const BLOCKS: usize = 200;
const HOSTNAMES: usize = 10_000;

/// One crate of 20 resources of several types, with dependencies, a notify target, a
/// template and vars.
fn crate_text(c: usize) -> String {
    let mut s = format!(
        "configcrate: c{c}\nvars:\n  port: \"{}\"\n  owner: app{c}\ndefaults:\n  owner: root\nresources:\n",
        8000 + c
    );
    for r in 0..RESOURCES_PER_CRATE {
        match r % 5 {
            0 => write!(
                s,
                "  - name: pkg{r}\n    type: package\n    package: tool-{c}-{r}\n    state: present\n"
            ),
            1 => write!(
                s,
                "  - name: conf{r}\n    type: file\n    target_path: /etc/app{c}/f{r}.conf\n    content: \"port={{{{ .Vars.port }}}} host={{{{ .Traits.network.hostname }}}}\\n\"\n    mode: \"0644\"\n    state: present\n    depends_on: pkg{}\n    notify: [reload{}]\n",
                r - 1,
                r + 3
            ),
            2 => write!(
                s,
                "  - name: dir{r}\n    type: directory\n    target_path: /srv/app{c}/d{r}\n    mode: 0750\n    state: present\n"
            ),
            3 => write!(
                s,
                "  - name: line{r}\n    type: file_line\n    target_path: /etc/app{c}/main.conf\n    line: \"key{r} = on\"\n    match_pattern: \"^key{r} \"\n    state: present\n    when: \"os_family('debian') && !is_container\"\n"
            ),
            _ => write!(
                s,
                "  - name: reload{r}\n    type: service\n    service: app{c}\n    state: reloaded\n    when: \"changed\"\n"
            ),
        }
        .expect("write to String");
    }
    s
}

fn generated_tree() -> SourceTree {
    let mut tree = SourceTree::new();
    for c in 0..CRATES {
        tree.insert(
            &format!("configcrates/group{}/c{c}.vgo", c % 10),
            crate_text(c),
        );
    }
    let mut roles = String::from("roles:\n");
    for r in 0..ROLES {
        let crates: Vec<String> = (0..CRATES / ROLES)
            .map(|i| format!("c{}", r * (CRATES / ROLES) + i))
            .collect();
        writeln!(
            roles,
            "  role{r}:\n    configcrates: [{}]",
            crates.join(", ")
        )
        .expect("write");
    }
    tree.insert("roles.vgo", roles);
    tree.insert("common.vgo", "vars:\n  site: lab\n");
    tree.insert(
        "environments.vgo",
        "env:\n  production:\n    vars: {site: prod}\n  staging:\n    vars: {site: stage}\n",
    );
    // 200 blocks over 10 hostcrate files in 5 directories.
    for f in 0..10 {
        let mut text = String::from("envoys:\n");
        for b in 0..BLOCKS / 10 {
            let i = f * (BLOCKS / 10) + b;
            writeln!(
                text,
                "  - match: \"h{i}-*.example.net\"\n    environment: {}\n    roles: [role{}]\n    vars: {{block: \"{i}\"}}",
                if i.is_multiple_of(2) { "production" } else { "staging" },
                i % ROLES
            )
            .expect("write");
        }
        tree.insert(&format!("site{}/hosts{f}.vgo", f % 5), text);
    }
    tree
}

fn hostnames() -> Vec<String> {
    (0..HOSTNAMES)
        .map(|n| format!("h{}-{n}.example.net", n % BLOCKS))
        .collect()
}

fn bench(c: &mut Criterion) {
    let tree = generated_tree();
    let stack = vigo_lang::load(&tree).unwrap_or_else(|e| panic!("generated stack:\n{e}"));
    let resources: usize = stack.crates.values().map(|c| c.resources.len()).sum();
    assert_eq!(
        (stack.crates.len(), resources, stack.blocks.len()),
        (CRATES, CRATES * RESOURCES_PER_CRATE, BLOCKS)
    );

    let mut g = c.benchmark_group("load");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("load_validate_500_crates_10k_resources", |b| {
        b.iter(|| vigo_lang::load(black_box(&tree)).map(|s| s.blocks.len()));
    });
    g.finish();

    let stack = Arc::new(stack);
    let names = hostnames();
    let mut g = c.benchmark_group("resolve");
    g.throughput(Throughput::Elements(HOSTNAMES as u64));
    g.sample_size(20);
    let warm = Resolver::new(Arc::clone(&stack), BundleMeta::default());
    for h in &names {
        warm.resolve(h, None).expect("resolves");
    }
    g.bench_function("10k_hostnames_200_blocks_cached", |b| {
        b.iter(|| {
            for h in &names {
                black_box(warm.resolve(black_box(h), None).expect("resolves"));
            }
        });
    });
    g.bench_function("10k_hostnames_200_blocks_cold_cache", |b| {
        b.iter(|| {
            let r = Resolver::new(Arc::clone(&stack), BundleMeta::default());
            for h in &names {
                black_box(r.resolve(black_box(h), None).expect("resolves"));
            }
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
