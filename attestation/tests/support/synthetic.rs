//! Synthetic AMD SEV-SNP chains and reports, for the cases no real report covers (a debug
//! guest, another chip's VCEK, other versions, products and TCBs).
//!
//! The certificates are made by the OpenSSL command line (a real, independent X.509 engine):
//! an RSA ARK and ASK that sign with RSASSA-PSS / SHA-384 / salt 48 (in DER's encoding of the
//! parameters, not AMD's), and a P-384 VCEK carrying AMD's extensions. Reports are built here
//! byte by byte following the ABI layout and signed with the VCEK's key by AWS-LC. Nothing of
//! this is trusted by a strict policy: its ARK is not AMD's.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair};
use ok2cry_attestation::RootFingerprint;
use ok2cry_attestation::sev_snp::{Product, SevSnpEvidence, SevSnpPolicy};

/// The SPLs a synthetic VCEK is issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spl {
    pub bootloader: u8,
    pub tee: u8,
    pub snp: u8,
    pub microcode: u8,
    pub fmc: u8,
}

pub const SPL: Spl = Spl {
    bootloader: 4,
    tee: 0,
    snp: 22,
    microcode: 213,
    fmc: 1,
};

impl Spl {
    /// The raw TCB_VERSION of these SPLs in `product`'s layout.
    pub fn raw(&self, product: Product) -> u64 {
        let mut b = [0u8; 8];
        if product == Product::Turin {
            b[0] = self.fmc;
            b[1] = self.bootloader;
            b[2] = self.tee;
            b[3] = self.snp;
        } else {
            b[0] = self.bootloader;
            b[1] = self.tee;
            b[6] = self.snp;
        }
        b[7] = self.microcode;
        u64::from_le_bytes(b)
    }
}

/// A synthetic ARK → ASK → VCEK chain; keeps its directory (and the ASK key) to issue more.
pub struct Chain {
    dir: tempfile::TempDir,
    pub product: Product,
    pub ark: Vec<u8>,
    pub ask: Vec<u8>,
    pub vcek: Vec<u8>,
    pub vcek_key: Vec<u8>,
    pub chip_id: [u8; 64],
    pub spl: Spl,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (install it: scripts/test-deps does): {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const SUBJECT: &str = "/OU=Engineering/C=US/L=Santa Clara/ST=CA/O=ok2cry test chain (not AMD)";
const PSS: [&str; 5] = [
    "-sha384",
    "-sigopt",
    "rsa_padding_mode:pss",
    "-sigopt",
    "rsa_pss_saltlen:48",
];

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn der_integer(value: u8) -> String {
    // DER INTEGER: a leading zero keeps values of 128 and above positive.
    if value >= 0x80 {
        format!("DER:02:02:00:{value:02X}")
    } else {
        format!("DER:02:01:{value:02X}")
    }
}

impl Chain {
    /// A new chain for `product`, issuing a VCEK for `chip_id` at `spl`.
    pub fn new(product: Product, chip_id: [u8; 64], spl: Spl) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let name = product.name();
        openssl(
            d,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                "ark.key",
            ],
        );
        let ark_subject = format!("{SUBJECT}/CN=ARK-{name}");
        let mut args = vec![
            "req",
            "-x509",
            "-new",
            "-key",
            "ark.key",
            "-subj",
            &ark_subject,
            "-days",
            "3650",
            "-addext",
            "basicConstraints=critical,CA:true",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-outform",
            "DER",
            "-out",
            "ark.der",
        ];
        args.extend(PSS);
        openssl(d, &args);
        openssl(
            d,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                "ask.key",
            ],
        );
        let ask_subject = format!("{SUBJECT}/CN=SEV-{name}");
        openssl(
            d,
            &[
                "req",
                "-new",
                "-key",
                "ask.key",
                "-subj",
                &ask_subject,
                "-out",
                "ask.csr",
            ],
        );
        std::fs::write(
            d.join("ask.ext"),
            "basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign\n",
        )
        .unwrap();
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            "ask.csr",
            "-CA",
            "ark.der",
            "-CAform",
            "DER",
            "-CAkey",
            "ark.key",
            "-set_serial",
            "2",
            "-days",
            "3650",
            "-extfile",
            "ask.ext",
            "-outform",
            "DER",
            "-out",
            "ask.der",
        ];
        args.extend(PSS);
        openssl(d, &args);
        let mut chain = Self {
            product,
            ark: std::fs::read(d.join("ark.der")).unwrap(),
            ask: std::fs::read(d.join("ask.der")).unwrap(),
            vcek: Vec::new(),
            vcek_key: Vec::new(),
            chip_id,
            spl,
            dir,
        };
        let (vcek, key) = chain.issue_vcek("vcek", &chip_id, spl, &format!("{name}-B0"));
        chain.vcek = vcek;
        chain.vcek_key = key;
        chain
    }

    /// Issues another VCEK (DER) and its PKCS#8 key from this chain's ASK.
    pub fn issue_vcek(
        &self,
        stem: &str,
        chip_id: &[u8; 64],
        spl: Spl,
        product_name: &str,
    ) -> (Vec<u8>, Vec<u8>) {
        let d = self.dir.path();
        let key = format!("{stem}.key.der");
        let csr = format!("{stem}.csr");
        let ext = format!("{stem}.ext");
        let der = format!("{stem}.der");
        openssl(
            d,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
                "-outform",
                "DER",
                "-out",
                &key,
            ],
        );
        let subject = format!("{SUBJECT}/CN=SEV-VCEK");
        openssl(
            d,
            &[
                "req", "-new", "-key", &key, "-keyform", "DER", "-subj", &subject, "-out", &csr,
            ],
        );
        let hw_id: &[u8] = if self.product == Product::Turin {
            &chip_id[..8]
        } else {
            chip_id
        };
        let mut lines = vec![
            "1.3.6.1.4.1.3704.1.1=DER:02:01:00".to_owned(),
            format!(
                "1.3.6.1.4.1.3704.1.2=DER:16:{:02X}:{}",
                product_name.len(),
                colon_hex(product_name.as_bytes())
            ),
            format!("1.3.6.1.4.1.3704.1.3.1={}", der_integer(spl.bootloader)),
            format!("1.3.6.1.4.1.3704.1.3.2={}", der_integer(spl.tee)),
            format!("1.3.6.1.4.1.3704.1.3.3={}", der_integer(spl.snp)),
            format!("1.3.6.1.4.1.3704.1.3.8={}", der_integer(spl.microcode)),
            format!("1.3.6.1.4.1.3704.1.4=DER:{}", colon_hex(hw_id)),
        ];
        if self.product == Product::Turin {
            lines.push(format!("1.3.6.1.4.1.3704.1.3.9={}", der_integer(spl.fmc)));
        }
        std::fs::write(d.join(&ext), lines.join("\n") + "\n").unwrap();
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ask.der",
            "-CAform",
            "DER",
            "-CAkey",
            "ask.key",
            "-set_serial",
            "0",
            "-days",
            "3650",
            "-extfile",
            &ext,
            "-outform",
            "DER",
            "-out",
            &der,
        ];
        args.extend(PSS);
        openssl(d, &args);
        (
            std::fs::read(d.join(&der)).unwrap(),
            std::fs::read(d.join(&key)).unwrap(),
        )
    }

    /// The policy that trusts this chain's ARK (and nothing else) for its product.
    pub fn policy(&self) -> SevSnpPolicy {
        SevSnpPolicy::strict().with_ark(RootFingerprint::of_certificate(&self.ark), self.product)
    }

    /// A report as this chain's chip would make it.
    pub fn report(&self) -> Report {
        Report::new(self.product, self.chip_id, self.spl.raw(self.product))
    }

    /// Evidence of `report` (already signed) with this chain.
    pub fn evidence(&self, report: &[u8]) -> Vec<u8> {
        SevSnpEvidence::from_parts(report, &self.vcek, &self.ask, &self.ark)
            .unwrap()
            .to_vec()
            .unwrap()
    }
}

/// A report under construction: 1184 bytes, fields set by offset, signed at the end.
pub struct Report {
    pub bytes: Vec<u8>,
}

impl Report {
    pub fn new(product: Product, chip_id: [u8; 64], tcb: u64) -> Self {
        let mut r = Self {
            bytes: vec![0; 0x4A0],
        };
        r.u32(0x000, 3);
        r.u64(0x008, 0x3_0000); // SMT allowed, reserved bit 17
        r.u32(0x034, 1); // ECDSA P-384 with SHA-384
        for offset in [0x038, 0x180, 0x1E0, 0x1F0] {
            r.u64(offset, tcb);
        }
        r.bytes[0x090..0x0C0].copy_from_slice(&[0x4d; 48]);
        let (family, model) = match product {
            Product::Milan => (0x19, 0x01),
            Product::Genoa => (0x19, 0x11),
            Product::Turin => (0x1A, 0x02),
        };
        r.bytes[0x188] = family;
        r.bytes[0x189] = model;
        r.bytes[0x1A0..0x1E0].copy_from_slice(&chip_id);
        r
    }
    pub fn u32(&mut self, offset: usize, value: u32) -> &mut Self {
        self.bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
        self
    }
    pub fn u64(&mut self, offset: usize, value: u64) -> &mut Self {
        self.bytes[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
        self
    }
    pub fn set(&mut self, offset: usize, value: &[u8]) -> &mut Self {
        self.bytes[offset..offset + value.len()].copy_from_slice(value);
        self
    }
    /// Signs bytes 0x000..0x2A0 with `pkcs8` (a P-384 key) into the signature fields.
    pub fn signed(&self, pkcs8: &[u8]) -> Vec<u8> {
        let key =
            EcdsaKeyPair::from_private_key_der(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8).unwrap();
        let signature = key
            .sign(&SystemRandom::new(), &self.bytes[..0x2A0])
            .unwrap();
        let signature = signature.as_ref();
        let mut out = self.bytes.clone();
        for (index, component) in signature.chunks(48).enumerate() {
            let start = 0x2A0 + index * 72;
            let mut little_endian = component.to_vec();
            little_endian.reverse();
            out[start..start + 48].copy_from_slice(&little_endian);
        }
        out
    }
}

/// A verification time safely inside the validity of certificates issued just now (OpenSSL
/// starts them at the current second; they last ten years).
pub fn after_issue() -> std::time::SystemTime {
    std::time::SystemTime::now() + std::time::Duration::from_secs(60)
}

/// A chip id for tests: `seed`, `seed + 1`, … (never all zeros).
pub fn chip_id(seed: u8) -> [u8; 64] {
    let mut id = [0u8; 64];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = seed.wrapping_add(u8::try_from(i).unwrap()) | 1;
    }
    id
}
