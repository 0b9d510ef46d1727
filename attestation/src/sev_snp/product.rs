//! AMD's SEV-SNP product lines: the pinned ARK of each, and how each lays out a TCB version.
//!
//! ARK fingerprints (SHA-256 of the DER certificate), as served by AMD's key distribution
//! service at `https://kdsintf.amd.com/vcek/v1/{Milan,Genoa,Turin}/cert_chain`. The copies this
//! project checked them against, with provenance, are in `attestation/tests/vectors/amd/`; a
//! test recomputes each fingerprint from them and checks the self-signature.
//!
//! | product | ARK subject CN | valid until | SHA-256 |
//! | --- | --- | --- | --- |
//! | Milan (EPYC 7003) | ARK-Milan | 2045-10-22 | `69D063B45344D26A2E94E1F4210DE49EF555308287D4C174445C95639A540BCD` |
//! | Genoa (EPYC 9004, 8004 "Siena") | ARK-Genoa | 2047-01-26 | `4C6598D19C18719C5DFD4A7D335F674E5BFE1D8F800CEA2CF270C10D103DB2F1` |
//! | Turin (EPYC 9005) | ARK-Turin | 2048-05-15 | `1F084161A44BB6D93778A904877D4819CAFA5D05EF4193B2DED9DD9C73DD3F6A` |
//!
//! TCB_VERSION layout (8 bytes, one security patch level per byte):
//! - Milan and Genoa: byte 0 bootloader, 1 TEE, 2–5 reserved, 6 SNP, 7 microcode;
//! - Turin: byte 0 FMC, 1 bootloader, 2 TEE, 3 SNP, 4–6 reserved, 7 microcode.

use crate::certificate::RootFingerprint;

/// An AMD EPYC product line with SEV-SNP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Product {
    /// EPYC 7003 ("Milan").
    Milan,
    /// EPYC 9004 ("Genoa") and 8004 ("Siena"), which share Genoa's keys.
    Genoa,
    /// EPYC 9005 ("Turin").
    Turin,
}

impl Product {
    /// Every product, oldest first.
    pub const ALL: [Product; 3] = [Product::Milan, Product::Genoa, Product::Turin];

    /// The name AMD uses (in certificate names and KDS URLs).
    pub fn name(self) -> &'static str {
        match self {
            Self::Milan => "Milan",
            Self::Genoa => "Genoa",
            Self::Turin => "Turin",
        }
    }

    /// The pinned fingerprint of this product's ARK (see the module docs).
    pub fn ark_fingerprint(self) -> RootFingerprint {
        RootFingerprint::from_bytes(match self {
            Self::Milan => [
                0x69, 0xd0, 0x63, 0xb4, 0x53, 0x44, 0xd2, 0x6a, 0x2e, 0x94, 0xe1, 0xf4, 0x21, 0x0d,
                0xe4, 0x9e, 0xf5, 0x55, 0x30, 0x82, 0x87, 0xd4, 0xc1, 0x74, 0x44, 0x5c, 0x95, 0x63,
                0x9a, 0x54, 0x0b, 0xcd,
            ],
            Self::Genoa => [
                0x4c, 0x65, 0x98, 0xd1, 0x9c, 0x18, 0x71, 0x9c, 0x5d, 0xfd, 0x4a, 0x7d, 0x33, 0x5f,
                0x67, 0x4e, 0x5b, 0xfe, 0x1d, 0x8f, 0x80, 0x0c, 0xea, 0x2c, 0xf2, 0x70, 0xc1, 0x0d,
                0x10, 0x3d, 0xb2, 0xf1,
            ],
            Self::Turin => [
                0x1f, 0x08, 0x41, 0x61, 0xa4, 0x4b, 0xb6, 0xd9, 0x37, 0x78, 0xa9, 0x04, 0x87, 0x7d,
                0x48, 0x19, 0xca, 0xfa, 0x5d, 0x05, 0xef, 0x41, 0x93, 0xb2, 0xde, 0xd9, 0xdd, 0x9c,
                0x73, 0xdd, 0x3f, 0x6a,
            ],
        })
    }

    /// The product a VCEK's productName extension names (`Milan-B0`, `Genoa-B1`, …: the part
    /// before the stepping).
    pub fn from_product_name(name: &str) -> Option<Self> {
        let line = name.split('-').next().unwrap_or_default();
        Self::ALL.into_iter().find(|p| p.name() == line)
    }

    /// The product a report's CPUID family and model (versions 3+) belong to, if known.
    pub fn from_cpuid(family: u8, model: u8) -> Option<Self> {
        match (family, model) {
            (0x19, 0x00..=0x0F) => Some(Self::Milan),
            (0x19, 0x10..=0x1F | 0xA0..=0xAF) => Some(Self::Genoa),
            (0x1A, _) => Some(Self::Turin),
            _ => None,
        }
    }

    /// Whether this product's TCB has an FMC component.
    pub fn has_fmc(self) -> bool {
        self == Self::Turin
    }

    /// Decodes a raw TCB_VERSION (see the module docs for the layouts).
    pub fn decode_tcb(self, raw: u64) -> Tcb {
        let b = raw.to_le_bytes();
        match self {
            Self::Milan | Self::Genoa => Tcb {
                fmc: None,
                bootloader: b[0],
                tee: b[1],
                snp: b[6],
                microcode: b[7],
            },
            Self::Turin => Tcb {
                fmc: Some(b[0]),
                bootloader: b[1],
                tee: b[2],
                snp: b[3],
                microcode: b[7],
            },
        }
    }
}

impl std::fmt::Display for Product {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A decoded TCB version: the security patch level (SPL) of each firmware component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tcb {
    /// FMC (Turin only).
    pub fmc: Option<u8>,
    /// AMD secure processor bootloader.
    pub bootloader: u8,
    /// AMD secure processor OS (TEE).
    pub tee: u8,
    /// SNP firmware.
    pub snp: u8,
    /// CPU microcode.
    pub microcode: u8,
}

impl Tcb {
    /// The components by name, in a fixed order; `fmc` is `None` where the product has none.
    pub fn components(&self) -> [(&'static str, Option<u8>); 5] {
        [
            ("bootloader", Some(self.bootloader)),
            ("tee", Some(self.tee)),
            ("snp", Some(self.snp)),
            ("microcode", Some(self.microcode)),
            ("fmc", self.fmc),
        ]
    }
}

impl std::fmt::Display for Tcb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(fmc) = self.fmc {
            write!(f, "fmc={fmc} ")?;
        }
        write!(
            f,
            "bootloader={} tee={} snp={} microcode={}",
            self.bootloader, self.tee, self.snp, self.microcode
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcb_layouts() {
        let raw = u64::from_le_bytes([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            Product::Milan.decode_tcb(raw),
            Tcb {
                fmc: None,
                bootloader: 1,
                tee: 2,
                snp: 7,
                microcode: 8
            }
        );
        assert_eq!(
            Product::Genoa.decode_tcb(raw),
            Product::Milan.decode_tcb(raw)
        );
        assert_eq!(
            Product::Turin.decode_tcb(raw),
            Tcb {
                fmc: Some(1),
                bootloader: 2,
                tee: 3,
                snp: 4,
                microcode: 8
            }
        );
    }

    #[test]
    fn names_and_cpuid() {
        assert_eq!(Product::from_product_name("Milan-B0"), Some(Product::Milan));
        assert_eq!(Product::from_product_name("Genoa"), Some(Product::Genoa));
        assert_eq!(Product::from_product_name("Milano-B0"), None);
        assert_eq!(Product::from_cpuid(0x19, 0x01), Some(Product::Milan));
        assert_eq!(Product::from_cpuid(0x19, 0x11), Some(Product::Genoa));
        assert_eq!(Product::from_cpuid(0x19, 0xA0), Some(Product::Genoa));
        assert_eq!(Product::from_cpuid(0x1A, 0x02), Some(Product::Turin));
        assert_eq!(Product::from_cpuid(0x17, 0x31), None);
    }
}
