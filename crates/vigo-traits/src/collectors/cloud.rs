//! `cloud`: the cloud provider and instance metadata (periodic, hourly).
//!
//! Off-cloud it must cost nothing: the provider is first recognised from DMI (vendor,
//! product, asset tag), and the instance metadata service (IMDS, `169.254.169.254`) is
//! asked only when DMI names a provider or the routing table has a route for it. Each
//! request has a short timeout. Without either, `provider` is `none`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ctx::Ctx;
use crate::error::TraitError;

/// The metadata address.
pub const IMDS: &str = "169.254.169.254:80";
const TIMEOUT: Duration = Duration::from_millis(300);

crate::trait_struct! {
    /// The `cloud` trait; fields the provider does not expose are omitted.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct Cloud {
        /// aws, gcp, azure, digitalocean, oracle, hetzner, vultr, linode, or none.
        pub provider: String,
        /// Instance id.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub instance_id: Option<String>,
        /// Instance type.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub instance_type: Option<String>,
        /// Instance name.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub instance_name: Option<String>,
        /// Region.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub region: Option<String>,
        /// Availability zone.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub zone: Option<String>,
        /// Account / project / subscription.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub account_id: Option<String>,
        /// Image id.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub image_id: Option<String>,
        /// Public IPv4.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub public_ip: Option<String>,
        /// Tags.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub tags: Option<BTreeMap<String, String>>,
    }
}

/// The provider DMI points at, if any.
pub fn provider_from_dmi(ctx: &Ctx) -> Option<&'static str> {
    let text = [
        "sys_vendor",
        "product_name",
        "bios_vendor",
        "chassis_asset_tag",
        "board_vendor",
    ]
    .iter()
    .filter_map(|f| ctx.read_opt(&format!("/sys/class/dmi/id/{f}")))
    .collect::<Vec<_>>()
    .join(" ")
    .to_lowercase();
    [
        ("amazon", "aws"),
        ("google", "gcp"),
        ("microsoft corporation", "azure"),
        ("digitalocean", "digitalocean"),
        ("oraclecloud", "oracle"),
        ("hetzner", "hetzner"),
        ("vultr", "vultr"),
        ("linode", "linode"),
        ("akamai", "linode"),
    ]
    .iter()
    .find(|(needle, _)| text.contains(needle))
    .map(|(_, p)| *p)
}

/// Whether the main routing table routes 169.254.169.254 somewhere other than a default
/// route (clouds add a link-local route for it).
fn imds_routed(ctx: &Ctx) -> bool {
    let target = u32::from_be_bytes([169, 254, 169, 254]);
    ctx.read("/proc/net/route")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let parse = |s: &str| u32::from_str_radix(s, 16).ok().map(u32::from_be);
            match (
                f.get(1).and_then(|s| parse(s)),
                f.get(7).and_then(|s| parse(s)),
            ) {
                (Some(dest), Some(mask)) if mask != 0 => target & mask == dest & mask,
                _ => false,
            }
        })
}

/// One HTTP/1.0 request to the metadata service; the body when the status is 200.
fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).ok()?;
    s.set_read_timeout(Some(TIMEOUT)).ok()?;
    s.set_write_timeout(Some(TIMEOUT)).ok()?;
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: 169.254.169.254\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Content-Length: 0\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut resp = Vec::new();
    s.take(1 << 20).read_to_end(&mut resp).ok()?;
    let resp = String::from_utf8_lossy(&resp);
    let (head, body) = resp.split_once("\r\n\r\n")?;
    head.lines()
        .next()?
        .split_whitespace()
        .nth(1)
        .filter(|c| *c == "200")?;
    Some(body.to_owned())
}

fn aws(addr: SocketAddr) -> Option<Cloud> {
    let token = http(
        addr,
        "PUT",
        "/latest/api/token",
        &[("X-aws-ec2-metadata-token-ttl-seconds", "60")],
    );
    let hdr: Vec<(&str, &str)> = token
        .as_deref()
        .map(|t| vec![("X-aws-ec2-metadata-token", t.trim())])
        .unwrap_or_default();
    let doc: Value = serde_json::from_str(&http(
        addr,
        "GET",
        "/latest/dynamic/instance-identity/document",
        &hdr,
    )?)
    .ok()?;
    let s = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(Cloud {
        provider: "aws".into(),
        instance_id: s("instanceId"),
        instance_type: s("instanceType"),
        region: s("region"),
        zone: s("availabilityZone"),
        account_id: s("accountId"),
        image_id: s("imageId"),
        public_ip: http(addr, "GET", "/latest/meta-data/public-ipv4", &hdr)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty()),
        ..Cloud::default()
    })
}

fn gcp(addr: SocketAddr) -> Option<Cloud> {
    let doc: Value = serde_json::from_str(&http(
        addr,
        "GET",
        "/computeMetadata/v1/?recursive=true",
        &[("Metadata-Flavor", "Google")],
    )?)
    .ok()?;
    let inst = doc.get("instance")?;
    let last = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .and_then(|s| s.rsplit('/').next())
            .map(str::to_owned)
    };
    let zone = last(inst.get("zone"));
    Some(Cloud {
        provider: "gcp".into(),
        instance_id: inst
            .get("id")
            .map(|v| v.to_string().trim_matches('"').to_owned()),
        instance_type: last(inst.get("machineType")),
        instance_name: inst.get("name").and_then(Value::as_str).map(str::to_owned),
        region: zone
            .as_ref()
            .and_then(|z| z.rsplit_once('-').map(|(r, _)| r.to_owned())),
        zone,
        account_id: doc
            .pointer("/project/projectId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        image_id: last(inst.get("image")),
        ..Cloud::default()
    })
}

fn azure(addr: SocketAddr) -> Option<Cloud> {
    let doc: Value = serde_json::from_str(&http(
        addr,
        "GET",
        "/metadata/instance?api-version=2021-02-01",
        &[("Metadata", "true")],
    )?)
    .ok()?;
    let c = doc.get("compute")?;
    let s = |k: &str| {
        c.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .filter(|v| !v.is_empty())
    };
    Some(Cloud {
        provider: "azure".into(),
        instance_id: s("vmId"),
        instance_type: s("vmSize"),
        instance_name: s("name"),
        region: s("location"),
        zone: s("zone"),
        account_id: s("subscriptionId"),
        ..Cloud::default()
    })
}

fn digitalocean(addr: SocketAddr) -> Option<Cloud> {
    let doc: Value = serde_json::from_str(&http(addr, "GET", "/metadata/v1.json", &[])?).ok()?;
    Some(Cloud {
        provider: "digitalocean".into(),
        instance_id: doc.get("droplet_id").map(|v| v.to_string()),
        instance_name: doc
            .get("hostname")
            .and_then(Value::as_str)
            .map(str::to_owned),
        region: doc.get("region").and_then(Value::as_str).map(str::to_owned),
        public_ip: doc
            .pointer("/interfaces/public/0/ipv4/ip_address")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..Cloud::default()
    })
}

/// Asks the metadata service at `addr`, trying the provider DMI named first.
pub fn probe(addr: SocketAddr, hint: Option<&str>) -> Option<Cloud> {
    let order: Vec<&str> = match hint {
        Some(h) => vec![h],
        None => vec!["aws", "gcp", "azure", "digitalocean"],
    };
    order.into_iter().find_map(|p| match p {
        "aws" => aws(addr),
        "gcp" => gcp(addr),
        "azure" => azure(addr),
        "digitalocean" => digitalocean(addr),
        _ => None,
    })
}

/// Collects `cloud`.
pub fn collect(ctx: &Ctx) -> Result<Cloud, TraitError> {
    let hint = provider_from_dmi(ctx);
    if hint.is_none() && !imds_routed(ctx) {
        return Ok(Cloud {
            provider: "none".into(),
            ..Cloud::default()
        });
    }
    let addr: SocketAddr = IMDS
        .parse()
        .map_err(|e| TraitError::system("parsing the metadata address", e))?;
    Ok(probe(addr, hint)
        // DMI named a provider whose metadata we could not read: still that provider.
        .or_else(|| {
            hint.map(|h| Cloud {
                provider: h.to_owned(),
                ..Cloud::default()
            })
        })
        .unwrap_or_else(|| Cloud {
            provider: "none".into(),
            ..Cloud::default()
        }))
}
