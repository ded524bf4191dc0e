//! Outbound webhooks: only `http`/`https`, only to allowed hosts, never to internal
//! addresses unless an admin listed the host, no redirects, bounded time; the body signed
//! with HMAC-SHA256 when a secret is set (`X-CRM-Signature: sha256=<hex>`).
//!
//! `CRM_WEBHOOK_ALLOWED_HOSTS` lists the hosts webhooks may call (`hooks.slack.com`,
//! `*.example.com`); a listed host may be anything, loopback included (a receiver beside
//! the server). When the list is empty any host is allowed whose addresses are all public;
//! the address checked is the one connected to (the name is resolved once and pinned), so
//! a name that changes its answer between the check and the call reaches nothing new.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::Url;
use sha2::Sha256;

use crate::config::Config;

/// How long a webhook call may take in all.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `ip` is a public address (not loopback, private, link-local, shared,
/// documentation, multicast or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

/// Whether `host` is on the allow-list (exact, or `*.domain` for its subdomains).
fn listed(config: &Config, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    config.webhook_allowed_hosts.iter().any(|entry| {
        let entry = entry.trim().to_ascii_lowercase();
        match entry.strip_prefix("*.") {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => !entry.is_empty() && host == entry,
        }
    })
}

/// The address to connect to for `url`, or why it may not be called.
async fn target(config: &Config, url: &Url) -> Result<Option<SocketAddr>, String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    let Some(host) = url.host_str() else {
        return Err("must name a host".into());
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if !config.webhook_allowed_hosts.is_empty() {
        return if listed(config, host) {
            Ok(None)
        } else {
            Err(format!(
                "host {host} is not allowed (CRM_WEBHOOK_ALLOWED_HOSTS)"
            ))
        };
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| format!("host {host} did not resolve in time"))?
            .map_err(|_| format!("host {host} does not resolve"))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(format!("host {host} does not resolve"));
    }
    if addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(format!(
            "host {host} is an internal address (list it in CRM_WEBHOOK_ALLOWED_HOSTS to allow it)"
        ));
    }
    Ok(Some(addrs[0]))
}

/// Checks a webhook URL when an automation is saved.
pub async fn check_url(config: &Config, url: &str) -> Result<(), String> {
    if url.len() > 2_000 {
        return Err("must be at most 2000 characters".into());
    }
    let parsed = Url::parse(url).map_err(|e| format!("is not a valid URL: {e}"))?;
    target(config, &parsed).await.map(|_| ())
}

/// `sha256=<hex HMAC-SHA256 of body with secret>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Posts `body` to `url`; `Ok(status)` for a 2xx answer, `Err` with the reason otherwise.
pub async fn post(
    config: &Config,
    url: &str,
    secret: Option<&str>,
    body: &serde_json::Value,
) -> Result<u16, String> {
    let parsed = Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    let pinned = target(config, &parsed).await?;
    let mut client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent("crm-automation/1");
    if let (Some(addr), Some(host)) = (pinned, parsed.host_str()) {
        client = client.resolve(host, addr);
    }
    let client = client.build().map_err(|e| format!("HTTP client: {e}"))?;
    let bytes = serde_json::to_vec(body).map_err(|e| format!("encoding: {e}"))?;
    let mut request = client
        .post(parsed)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    if let Some(secret) = secret {
        request = request.header("X-CRM-Signature", signature(secret, &bytes));
    }
    let response = request
        .body(bytes)
        .send()
        .await
        .map_err(|e| format!("webhook call failed: {e}"))?;
    let status = response.status();
    if status.is_success() {
        Ok(status.as_u16())
    } else {
        Err(format!("webhook answered {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_against_the_allow_list_and_internal_ranges() {
        let mut config = Config::for_database("sqlite::memory:");
        assert!(check_url(&config, "ftp://example.com/x").await.is_err());
        assert!(check_url(&config, "http://127.0.0.1:9/x").await.is_err());
        assert!(
            check_url(&config, "http://169.254.169.254/latest")
                .await
                .is_err()
        );
        assert!(check_url(&config, "http://[::1]/").await.is_err());
        assert!(check_url(&config, "http://u:p@8.8.8.8/").await.is_err());
        assert!(check_url(&config, "https://8.8.8.8/hook").await.is_ok());
        config.webhook_allowed_hosts = vec!["127.0.0.1".into(), "*.example.com".into()];
        assert!(check_url(&config, "http://127.0.0.1:9/x").await.is_ok());
        assert!(
            check_url(&config, "https://hooks.example.com/x")
                .await
                .is_ok()
        );
        assert!(check_url(&config, "https://8.8.8.8/hook").await.is_err());
        assert!(
            check_url(&config, "https://example.com.evil.io/")
                .await
                .is_err()
        );
    }

    #[test]
    fn signatures_are_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
