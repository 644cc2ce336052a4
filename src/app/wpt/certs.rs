//! The runner's throwaway TLS certificates, made with the openssl CLI: a CA
//! and a host certificate for every WPT host name, and the host key's SPKI
//! fingerprint (for Chromium's `--ignore-certificate-errors-spki-list`).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Result};

pub(super) struct Certs {
  pub ca: PathBuf,
  pub key: PathBuf,
  pub cert: PathBuf,
  pub spki_sha256: String,
}

async fn openssl(args: &[&str], cwd: &Path) -> Result<()> {
  let out = tokio::process::Command::new("openssl")
    .args(args)
    .current_dir(cwd)
    .stdin(Stdio::null())
    .output()
    .await;
  match out {
    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
      bail!("openssl not found: `swharness wpt` makes its test certificates with the openssl CLI (apt-get install openssl)")
    }
    Err(e) => bail!("running openssl: {e}"),
    Ok(o) if !o.status.success() => {
      bail!(
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr).trim()
      )
    }
    Ok(_) => Ok(()),
  }
}

/// A throwaway CA and a host certificate for every WPT host name, localhost
/// and 127.0.0.1 (EC P-256, 30 days).
pub(super) async fn make_certs(dir: &Path, domains: &[String]) -> Result<Certs> {
  std::fs::create_dir_all(dir)?;
  let mut san: Vec<String> = domains.iter().map(|d| format!("DNS:{d}")).collect();
  san.push("DNS:localhost".into());
  san.push("IP:127.0.0.1".into());
  let ext = format!(
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
     extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n\
     subjectAltName={}\n",
    san.join(",")
  );
  std::fs::write(dir.join("host.ext"), ext)?;
  let ec = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
  ];
  let mut ca_args = vec!["req", "-x509"];
  ca_args.extend(ec);
  ca_args.extend([
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "30",
    "-subj",
    "/CN=swharness WPT test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  openssl(&ca_args, dir).await?;
  let mut csr_args = vec!["req"];
  csr_args.extend(ec);
  csr_args.extend([
    "-keyout",
    "host.key",
    "-out",
    "host.csr",
    "-subj",
    "/CN=web-platform.test",
  ]);
  openssl(&csr_args, dir).await?;
  openssl(
    &[
      "x509",
      "-req",
      "-in",
      "host.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "host.pem",
      "-days",
      "30",
      "-sha256",
      "-extfile",
      "host.ext",
    ],
    dir,
  )
  .await?;
  // The host key's SPKI fingerprint, as Chromium's
  // --ignore-certificate-errors-spki-list takes it.
  openssl(
    &[
      "x509", "-in", "host.pem", "-noout", "-pubkey", "-out", "host.pub",
    ],
    dir,
  )
  .await?;
  openssl(
    &[
      "pkey",
      "-pubin",
      "-in",
      "host.pub",
      "-outform",
      "der",
      "-out",
      "host.spki",
    ],
    dir,
  )
  .await?;
  openssl(
    &[
      "dgst",
      "-sha256",
      "-binary",
      "-out",
      "host.spki.sha256",
      "host.spki",
    ],
    dir,
  )
  .await?;
  let digest = std::fs::read(dir.join("host.spki.sha256"))?;
  Ok(Certs {
    ca: dir.join("ca.pem"),
    key: dir.join("host.key"),
    cert: dir.join("host.pem"),
    spki_sha256: crate::platform::ipc::encode_base64(&digest),
  })
}
