//! What a VCEK certificate says about its chip, in AMD's extensions (AMD "Versioned Chip
//! Endorsement Key (VCEK) Certificate and KDS Interface Specification", certificate
//! extensions under 1.3.6.1.4.1.3704.1):
//!
//! | OID suffix | name | value (the extension's extnValue) |
//! | --- | --- | --- |
//! | .1 | structVersion | INTEGER |
//! | .2 | productName | IA5String, e.g. `Milan-B0` |
//! | .3.1 | blSPL | INTEGER: bootloader SPL |
//! | .3.2 | teeSPL | INTEGER |
//! | .3.3 | snpSPL | INTEGER |
//! | .3.8 | ucodeSPL | INTEGER |
//! | .3.9 | fmcSPL | INTEGER (Turin) |
//! | .4 | hwID | the chip id itself, 64 bytes (Turin: its first 8 bytes) |
//!
//! These are read only from a VCEK whose chain was verified; an extension repeated, or one of
//! the required ones missing or malformed, is refused.

use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::der::asn1::{Ia5StringRef, ObjectIdentifier, OctetStringRef};

use crate::error::{AttestationError, Result};
use crate::sev_snp::product::{Product, Tcb};

const PRODUCT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.2");
const BL_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.1");
const TEE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.2");
const SNP_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.3");
const UCODE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.8");
const FMC_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.9");
const HW_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.4");

/// Length of a chip id in a report and (before Turin) in a VCEK.
pub const CHIP_ID_LEN: usize = 64;
/// Length of the hwID extension of Turin VCEKs (the chip id's first 8 bytes).
pub const TURIN_HW_ID_LEN: usize = 8;

/// The AMD extensions of a VCEK certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VcekExtensions {
    /// productName, e.g. `Milan-B0`.
    pub product_name: String,
    /// hwID: the chip id the VCEK was issued for.
    pub hw_id: Vec<u8>,
    /// The TCB the VCEK was issued for.
    pub tcb: Tcb,
}

impl VcekExtensions {
    /// Reads the extensions of the DER VCEK certificate `der`.
    pub fn read(der: &[u8]) -> Result<Self> {
        let cert =
            Certificate::from_der(der).map_err(|_| AttestationError::CertificateMalformed {
                position: 2,
                reason: "not strict DER X.509",
            })?;
        let mut found: Vec<(ObjectIdentifier, &[u8])> = Vec::new();
        for extension in cert
            .tbs_certificate()
            .extensions()
            .map(|e| e.as_slice())
            .unwrap_or_default()
        {
            if found.iter().any(|(oid, _)| *oid == extension.extn_id) {
                return Err(AttestationError::VcekExtension("repeated"));
            }
            found.push((extension.extn_id, extension.extn_value.as_bytes()));
        }
        let value = |oid: ObjectIdentifier, name: &'static str| {
            found
                .iter()
                .find(|(id, _)| *id == oid)
                .map(|(_, value)| *value)
                .ok_or(AttestationError::VcekExtension(name))
        };
        let spl = |oid, name| {
            u8::from_der(value(oid, name)?).map_err(|_| AttestationError::VcekExtension(name))
        };
        let product_name = Ia5StringRef::from_der(value(PRODUCT_NAME, "productName")?)
            .map_err(|_| AttestationError::VcekExtension("productName"))?
            .as_str()
            .to_owned();
        let product = Product::from_product_name(&product_name)
            .ok_or(AttestationError::VcekExtension("productName"))?;
        let hw_id = read_hw_id(value(HW_ID, "hwID")?, product)?;
        let fmc = if product.has_fmc() {
            Some(spl(FMC_SPL, "fmcSPL")?)
        } else {
            None
        };
        Ok(Self {
            product_name,
            hw_id,
            tcb: Tcb {
                fmc,
                bootloader: spl(BL_SPL, "blSPL")?,
                tee: spl(TEE_SPL, "teeSPL")?,
                snp: spl(SNP_SPL, "snpSPL")?,
                microcode: spl(UCODE_SPL, "ucodeSPL")?,
            },
        })
    }

    /// The product line the productName names.
    pub fn product(&self) -> Option<Product> {
        Product::from_product_name(&self.product_name)
    }

    /// Whether the VCEK was issued for the chip with this (report) chip id.
    pub fn is_for_chip(&self, chip_id: &[u8; CHIP_ID_LEN]) -> bool {
        use subtle::ConstantTimeEq;
        let len = self.hw_id.len();
        len <= CHIP_ID_LEN && bool::from(self.hw_id.ct_eq(&chip_id[..len]))
    }
}

/// AMD puts the chip id's raw bytes in the extension value; accept a DER OCTET STRING around
/// them too (some re-encoders add one), but nothing of another length.
fn read_hw_id(value: &[u8], product: Product) -> Result<Vec<u8>> {
    let expected = if product == Product::Turin {
        TURIN_HW_ID_LEN
    } else {
        CHIP_ID_LEN
    };
    if value.len() == expected {
        return Ok(value.to_vec());
    }
    match <&OctetStringRef>::from_der(value) {
        Ok(inner) if inner.as_bytes().len() == expected => Ok(inner.as_bytes().to_vec()),
        _ => Err(AttestationError::VcekExtension("hwID")),
    }
}
