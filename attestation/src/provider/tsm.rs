//! SEV-SNP reports from inside a confidential VM, through Linux's configfs-tsm report
//! interface (Linux 6.7 and later; `Documentation/ABI/testing/configfs-tsm`).
//!
//! Plain file operations, no ioctl: for each report the provider
//! 1. creates an entry `<root>/ok2cry-<random>` (the kernel fills it with attribute files);
//! 2. writes `privlevel` (the VMPL to request the report at), when configured;
//! 3. writes `inblob`: the 64-byte REPORT_DATA, `SHA-512(… nonce … user_data)`
//!    ([`crate::binding::report_data_for`]);
//! 4. reads `generation`, then `outblob` (the kernel asks the secure processor for the report
//!    on this read), `provider` (must be `sev_guest`) and, when the certificates come from the
//!    host, `auxblob` (the extended report's certificate table); then `generation` again, which
//!    must not have changed (else another writer touched the entry in between);
//! 5. removes the entry (also when a step failed).
//!
//! The report's VCEK, ASK and ARK come either from the host (the certificate table the
//! hypervisor attaches to extended reports, as Google Cloud and hosts configured with
//! `snphost` do) or are given when the provider is made (fetched at deployment from AMD's key
//! distribution service, or from Azure's instance metadata service). The provider returns
//! ok2cry's SEV-SNP evidence bundle ([`crate::sev_snp::SevSnpEvidence`]).
//!
//! Not covered: the older `/dev/sev-guest` ioctl interface (it needs `unsafe` ioctls, which
//! this workspace forbids; every kernel with configfs-tsm has both), and Azure confidential
//! VMs with a paravisor (DCasv5/ECasv5), whose guest OS gets no SNP report of its own (the
//! paravisor's report, wrapped in the vTPM's HCL report, carries the paravisor's REPORT_DATA).

use std::path::{Path, PathBuf};

use crate::binding::report_data_for;
use crate::error::{AttestationError, Result};
use crate::evidence::read_at_most;
use crate::provider::AttestationProvider;
use crate::sev_snp::SevSnpEvidence;
use crate::sev_snp::evidence::MAX_CERTIFICATE_LEN;

/// Where configfs-tsm reports live.
pub const DEFAULT_TSM_REPORT_ROOT: &str = "/sys/kernel/config/tsm/report";

/// The configfs-tsm provider name of SEV-SNP guests.
const SEV_GUEST_PROVIDER: &str = "sev_guest";

/// Largest `outblob` read (a report is 1184 bytes).
const MAX_OUTBLOB_LEN: usize = 4096;
/// Largest `auxblob` read (a certificate table of a few certificates).
const MAX_AUXBLOB_LEN: usize = 64 * 1024;
/// One entry of the certificate table: GUID (16 bytes), offset and length (u32 LE each).
const CERT_TABLE_ENTRY_LEN: usize = 24;

/// Certificate-table GUIDs, in RFC 4122 (big-endian) byte order.
const GUID_VCEK: [u8; 16] = guid(0x63da758d, 0xe664, 0x4564, 0xadc5_f4b9_3be8_accd);
const GUID_ASK: [u8; 16] = guid(0x4ab7b379, 0xbbac, 0x4fe4, 0xa02f_05ae_f327_c782);
const GUID_ARK: [u8; 16] = guid(0xc0b406a4, 0xa803, 0x4952, 0x9743_3fb6_014c_d0ae);

const fn guid(a: u32, b: u16, c: u16, d: u64) -> [u8; 16] {
    let a = a.to_be_bytes();
    let b = b.to_be_bytes();
    let c = c.to_be_bytes();
    let d = d.to_be_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

/// The same GUID in the mixed-endian layout (first three fields little-endian) some hosts write.
fn mixed_endian(guid: &[u8; 16]) -> [u8; 16] {
    let mut out = *guid;
    out[0..4].reverse();
    out[4..6].reverse();
    out[6..8].reverse();
    out
}

/// Where the VCEK, ASK and ARK of each report come from.
pub enum CertificateSource {
    /// The host's certificate table (configfs-tsm `auxblob`).
    Host,
    /// Fixed certificates (DER), given at start: the VCEK for this chip and its current TCB
    /// (fetch a new one after a firmware update), and AMD's ASK and ARK.
    Fixed {
        /// The chip's VCEK.
        vcek: Vec<u8>,
        /// AMD's ASK for the product.
        ask: Vec<u8>,
        /// AMD's ARK for the product.
        ark: Vec<u8>,
    },
}

/// Produces SEV-SNP evidence inside an SEV-SNP guest (see the module docs).
pub struct SevSnpProvider {
    root: PathBuf,
    certificates: CertificateSource,
    vmpl: Option<u32>,
}

impl SevSnpProvider {
    /// A provider using the configfs-tsm report directory `root` (normally
    /// [`DEFAULT_TSM_REPORT_ROOT`]); `vmpl` is written to `privlevel` when given. Fails when
    /// `root` is not a directory (not an SEV-SNP guest, a kernel before 6.7, or configfs not
    /// mounted).
    pub fn open(
        root: impl Into<PathBuf>,
        certificates: CertificateSource,
        vmpl: Option<u32>,
    ) -> Result<Self> {
        let root = root.into();
        if !root.is_dir() {
            return Err(AttestationError::Provider(format!(
                "no configfs-tsm report interface at {} (not an SEV-SNP guest, Linux before 6.7, \
                 or configfs not mounted)",
                root.display()
            )));
        }
        if vmpl.is_some_and(|vmpl| vmpl > 3) {
            return Err(AttestationError::InvalidInput("VMPL is 0 to 3"));
        }
        Ok(Self {
            root,
            certificates,
            vmpl,
        })
    }

    fn report(&self, report_data: &[u8; 64]) -> Result<Vec<u8>> {
        let mut id = [0u8; 8];
        getrandom::fill(&mut id)
            .map_err(|e| AttestationError::Provider(format!("random entry name: {e}")))?;
        let entry = Entry::create(self.root.join(format!("ok2cry-{}", hex::encode(id))))?;
        if let Some(vmpl) = self.vmpl {
            entry.write("privlevel", vmpl.to_string().as_bytes())?;
        }
        entry.write("inblob", report_data)?;
        let generation = entry.read_text("generation")?;
        let report = entry.read("outblob", MAX_OUTBLOB_LEN)?;
        let provider = entry.read_text("provider")?;
        if provider != SEV_GUEST_PROVIDER {
            return Err(AttestationError::Provider(format!(
                "configfs-tsm provider is {provider:?}, not {SEV_GUEST_PROVIDER:?}"
            )));
        }
        let evidence = match &self.certificates {
            CertificateSource::Fixed { vcek, ask, ark } => {
                SevSnpEvidence::from_parts(&report, vcek, ask, ark)?
            }
            CertificateSource::Host => {
                let table = CertTable::parse(&entry.read("auxblob", MAX_AUXBLOB_LEN)?)?;
                let missing = |what: &str| {
                    AttestationError::Provider(format!(
                        "the host supplied no {what} certificate with the report; configure the \
                         certificates instead"
                    ))
                };
                SevSnpEvidence::from_parts(
                    &report,
                    &table.vcek.ok_or_else(|| missing("VCEK"))?,
                    &table.ask.ok_or_else(|| missing("ASK"))?,
                    &table.ark.ok_or_else(|| missing("ARK"))?,
                )?
            }
        };
        if entry.read_text("generation")? != generation {
            return Err(AttestationError::Provider(
                "configfs-tsm entry changed while the report was read (concurrent writer)".into(),
            ));
        }
        evidence.to_vec()
    }
}

impl AttestationProvider for SevSnpProvider {
    /// Produces SEV-SNP evidence whose REPORT_DATA commits to `nonce` (required, 1 to 64 bytes)
    /// and `user_data`. An SEV-SNP report has no public key field: `public_key` must be `None`.
    fn attest(
        &self,
        nonce: Option<&[u8]>,
        user_data: Option<&[u8]>,
        public_key: Option<&[u8]>,
    ) -> Result<Vec<u8>> {
        if public_key.is_some() {
            return Err(AttestationError::InvalidInput(
                "an SEV-SNP report has no public_key field",
            ));
        }
        let nonce = nonce.ok_or(AttestationError::InvalidInput(
            "an SEV-SNP report needs a nonce",
        ))?;
        let report_data = report_data_for(nonce, user_data.unwrap_or_default())?;
        self.report(&report_data)
    }
}

/// A configfs-tsm report entry, removed on drop.
struct Entry {
    dir: PathBuf,
}

impl Entry {
    fn create(dir: PathBuf) -> Result<Self> {
        std::fs::create_dir(&dir)
            .map_err(|e| io_error("cannot create a report entry", &dir, &e))?;
        Ok(Self { dir })
    }

    fn write(&self, attribute: &str, bytes: &[u8]) -> Result<()> {
        let path = self.dir.join(attribute);
        std::fs::write(&path, bytes).map_err(|e| io_error("cannot write", &path, &e))
    }

    fn read(&self, attribute: &str, limit: usize) -> Result<Vec<u8>> {
        let path = self.dir.join(attribute);
        let file = std::fs::File::open(&path).map_err(|e| io_error("cannot read", &path, &e))?;
        read_at_most(file, limit)
    }

    fn read_text(&self, attribute: &str) -> Result<String> {
        let bytes = self.read(attribute, 64)?;
        Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // configfs entries are removed with rmdir, attribute files and all.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn io_error(what: &str, path: &Path, error: &std::io::Error) -> AttestationError {
    AttestationError::Provider(format!("configfs-tsm: {what} {}: {error}", path.display()))
}

/// The certificates found in an extended report's certificate table.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CertTable {
    /// The VCEK, DER.
    pub vcek: Option<Vec<u8>>,
    /// The ASK, DER.
    pub ask: Option<Vec<u8>>,
    /// The ARK, DER.
    pub ark: Option<Vec<u8>>,
}

impl CertTable {
    /// Parses a certificate table: 24-byte entries (GUID, offset and length as little-endian
    /// u32, offsets from the table's start) up to an all-zero GUID, then the certificates.
    /// Entries with other GUIDs (CRLs, VLEK, …) are skipped; a GUID in either byte order is
    /// recognised; an entry pointing outside the table, or a certificate over 4 KiB, is refused.
    pub fn parse(table: &[u8]) -> Result<Self> {
        let malformed = AttestationError::Malformed("SEV-SNP certificate table");
        let mut out = Self::default();
        let mut entries = table.chunks_exact(CERT_TABLE_ENTRY_LEN);
        loop {
            let entry = entries.next().ok_or(malformed.clone())?;
            let mut guid = [0u8; 16];
            guid.copy_from_slice(&entry[..16]);
            if guid == [0u8; 16] {
                return Ok(out);
            }
            let field = |at: usize| {
                let mut word = [0u8; 4];
                word.copy_from_slice(&entry[at..at + 4]);
                usize::try_from(u32::from_le_bytes(word)).ok()
            };
            let (Some(offset), Some(length)) = (field(16), field(20)) else {
                return Err(malformed);
            };
            let Some(certificate) = offset
                .checked_add(length)
                .and_then(|end| table.get(offset..end))
            else {
                return Err(malformed);
            };
            if certificate.len() > MAX_CERTIFICATE_LEN {
                return Err(malformed);
            }
            let slot = [
                (GUID_VCEK, &mut out.vcek),
                (GUID_ASK, &mut out.ask),
                (GUID_ARK, &mut out.ark),
            ]
            .into_iter()
            .find(|(known, _)| *known == guid || mixed_endian(known) == guid)
            .map(|(_, slot)| slot);
            if let Some(slot) = slot {
                *slot = Some(certificate.to_vec());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[([u8; 16], &[u8])]) -> Vec<u8> {
        let header = (entries.len() + 1) * CERT_TABLE_ENTRY_LEN;
        let mut head = Vec::new();
        let mut body = Vec::new();
        for (guid, cert) in entries {
            head.extend_from_slice(guid);
            let offset = u32::try_from(header + body.len()).unwrap();
            head.extend_from_slice(&offset.to_le_bytes());
            head.extend_from_slice(&u32::try_from(cert.len()).unwrap().to_le_bytes());
            body.extend_from_slice(cert);
        }
        head.extend_from_slice(&[0; CERT_TABLE_ENTRY_LEN]);
        head.extend_from_slice(&body);
        head
    }

    #[test]
    fn guids_are_the_documented_ones() {
        assert_eq!(
            hex::encode(GUID_ARK),
            "c0b406a4a80349529743 3fb6014cd0ae".replace(' ', "")
        );
        assert_eq!(hex::encode(GUID_VCEK), "63da758de6644564adc5f4b93be8accd");
        assert_eq!(
            hex::encode(mixed_endian(&GUID_ASK)),
            "79b3b74aacbbe44fa02f05aef327c782"
        );
    }

    #[test]
    fn certificate_table_round_trip_and_refusals() {
        let crl_guid = guid(0x92f81bc3, 0x5811, 0x4d3d, 0x97ff_d19f_88dc_67ea);
        let bytes = table(&[
            (GUID_VCEK, b"vcek"),
            (crl_guid, b"a crl"),
            (mixed_endian(&GUID_ASK), b"ask"),
            (GUID_ARK, b"ark"),
        ]);
        assert_eq!(
            CertTable::parse(&bytes).unwrap(),
            CertTable {
                vcek: Some(b"vcek".to_vec()),
                ask: Some(b"ask".to_vec()),
                ark: Some(b"ark".to_vec()),
            }
        );
        assert_eq!(CertTable::parse(&table(&[])).unwrap(), CertTable::default());
        // No terminator, an entry pointing past the end, an empty buffer.
        assert!(CertTable::parse(&bytes[..CERT_TABLE_ENTRY_LEN]).is_err());
        let mut past_end = table(&[(GUID_VCEK, b"vcek")]);
        past_end[20] = 0xff;
        assert!(CertTable::parse(&past_end).is_err());
        assert!(CertTable::parse(&[]).is_err());
    }

    #[test]
    fn outside_a_guest_the_provider_says_why() {
        let missing = std::env::temp_dir().join("ok2cry-no-such-tsm-root");
        let refused = SevSnpProvider::open(&missing, CertificateSource::Host, None);
        assert!(matches!(
            &refused,
            Err(AttestationError::Provider(message)) if message.contains("configfs-tsm")
        ));
    }

    #[test]
    fn inputs_an_sev_snp_report_cannot_carry_are_refused() {
        let dir = std::env::temp_dir();
        let provider = SevSnpProvider::open(&dir, CertificateSource::Host, None).unwrap();
        assert!(matches!(
            provider.attest(Some(b"n"), None, Some(b"key")),
            Err(AttestationError::InvalidInput(_))
        ));
        assert!(matches!(
            provider.attest(None, None, None),
            Err(AttestationError::InvalidInput(_))
        ));
        assert!(matches!(
            provider.attest(Some(&[0; 65]), None, None),
            Err(AttestationError::InvalidInput(_))
        ));
        assert!(SevSnpProvider::open(&dir, CertificateSource::Host, Some(4)).is_err());
    }
}
