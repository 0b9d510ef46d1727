//! The SEV-SNP verifier against a real report from an AMD EPYC Milan CPU, with its VCEK and
//! AMD's chain (shared/vectors/sev-snp/): accepted, and refused after every single-byte
//! alteration of any part. Synthetic chains (made by the OpenSSL command line, see
//! support/synthetic.rs) cover what no real report here does: a debug guest, another chip's
//! VCEK, every report version and product, VCEK/report disagreements.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, SystemTime};

use ok2cry_attestation::sev_snp::evidence::{pem_certificates, report_bytes};
use ok2cry_attestation::sev_snp::{
    Product, SevSnpEvidence, SevSnpPolicy, Tcb, TcbMinimum, verify_sev_snp,
};
use ok2cry_attestation::{
    AttestationError, MAX_EVIDENCE_LEN, Platform, Policy, RootFingerprint, Verified, Verifier,
    read_evidence,
};
use support::synthetic::{self, Chain, SPL};
use support::{MILAN_AT_MS, at_ms, milan};
use x509_cert::Certificate;
use x509_cert::der::Decode;

fn at() -> SystemTime {
    at_ms(MILAN_AT_MS)
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at] ^= 0x01;
    out
}

const MILAN_MEASUREMENT: &str = "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f";
const MILAN_CHIP_ID: &str = "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6";

#[test]
fn milan_report_verifies_with_its_chain() {
    let m = milan();
    let evidence = m.evidence();
    let verified = verify_sev_snp(&evidence, &SevSnpPolicy::strict(), at()).unwrap();
    assert_eq!(verified.product(), Product::Milan);
    assert_eq!(verified.vcek_product_name(), "Milan-B0");
    assert_eq!(verified.version(), 2);
    assert_eq!(verified.vmpl(), 0);
    assert!(!verified.is_debug());
    assert_eq!(hex::encode(verified.measurement()), MILAN_MEASUREMENT);
    assert_eq!(hex::encode(verified.chip_id()), MILAN_CHIP_ID);
    assert_eq!(
        verified.reported_tcb(),
        Tcb {
            fmc: None,
            bootloader: 3,
            tee: 0,
            snp: 8,
            microcode: 115
        }
    );
    assert_eq!(verified.current_tcb(), verified.reported_tcb());
    assert_eq!(verified.report().cpuid(), None, "version 2 has no CPUID");

    // The same through the platform-neutral verifier, which says what it was.
    let both = Verifier::strict().verify(&evidence, at()).unwrap();
    assert_eq!(both.platform(), Platform::SevSnp);
    assert!(matches!(&both, Verified::SevSnp(v) if *v == verified));
    assert!(both.as_nitro().is_none());

    // And from the files as AMD's tools write them (hex report, DER VCEK, PEM chain).
    let from_files = SevSnpEvidence::from_files(
        &support::sev_file("report_milan.hex"),
        &support::sev_file("vcek_milan.der"),
        &support::sev_file("cert_chain_milan"),
    )
    .unwrap();
    assert_eq!(from_files.to_vec().unwrap(), evidence);

    // Every expectation met exactly is accepted.
    let mut measurement = [0u8; 48];
    measurement.copy_from_slice(&hex::decode(MILAN_MEASUREMENT).unwrap());
    let exact = SevSnpPolicy::strict()
        .expect_measurement([0; 48])
        .expect_measurement(measurement)
        .require_report_data(verified.report_data())
        .require_vmpl(0)
        .with_min_tcb(TcbMinimum {
            bootloader: 3,
            tee: 0,
            snp: 8,
            microcode: 115,
            fmc: 200, // Milan has no FMC: ignored
        })
        .only_products(&[Product::Milan]);
    verify_sev_snp(&evidence, &exact, at()).unwrap();
}

#[test]
fn policy_expectations_are_enforced() {
    let evidence = milan().evidence();
    let check = |policy: SevSnpPolicy| verify_sev_snp(&evidence, &policy, at());
    assert_eq!(
        check(SevSnpPolicy::strict().expect_measurement([0x7a; 48])),
        Err(AttestationError::MeasurementMismatch)
    );
    assert_eq!(
        check(SevSnpPolicy::strict().require_report_data([0; 64])),
        Err(AttestationError::ReportDataMismatch)
    );
    assert_eq!(
        check(SevSnpPolicy::strict().require_vmpl(1)),
        Err(AttestationError::VmplMismatch {
            expected: 1,
            actual: 0
        })
    );
    let above = TcbMinimum {
        bootloader: 3,
        tee: 0,
        snp: 9,
        microcode: 0,
        fmc: 0,
    };
    assert_eq!(
        check(SevSnpPolicy::strict().with_min_tcb(above)),
        Err(AttestationError::TcbTooLow {
            component: "snp",
            actual: 8,
            minimum: 9
        })
    );
    assert_eq!(
        check(SevSnpPolicy::strict().only_products(&[Product::Genoa, Product::Turin])),
        Err(AttestationError::UntrustedRoot)
    );
    // A Nitro-only verifier does not take SEV-SNP evidence at all.
    assert_eq!(
        Verifier::new()
            .with_nitro(Policy::strict())
            .verify(&evidence, at()),
        Err(AttestationError::PlatformNotAllowed("AMD SEV-SNP"))
    );
}

#[test]
fn every_single_byte_alteration_is_refused() {
    let m = milan();
    let policy = SevSnpPolicy::strict();
    let parts: [(&str, &Vec<u8>); 4] = [
        ("report", &m.report),
        ("vcek", &m.vcek),
        ("ask", &m.ask),
        ("ark", &m.ark),
    ];
    let mut total = 0;
    for (name, bytes) in parts {
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for index in 0..bytes.len() {
            let altered = flip(bytes, index);
            let pick = |part: &str, genuine: &Vec<u8>| {
                if part == name {
                    altered.clone()
                } else {
                    genuine.clone()
                }
            };
            let result = SevSnpEvidence::from_parts(
                &pick("report", &m.report),
                &pick("vcek", &m.vcek),
                &pick("ask", &m.ask),
                &pick("ark", &m.ark),
            )
            .and_then(|evidence| evidence.verify(&policy, at()));
            let Err(error) = result else {
                panic!("{name}: flipping byte {index} was accepted");
            };
            let kind = format!("{error:?}");
            let kind = kind.split([' ', '(']).next().unwrap_or_default().to_owned();
            *kinds.entry(kind).or_default() += 1;
            // Where the cause is certain, so is the error.
            let certain = match name {
                "ark" => Some(AttestationError::UntrustedRoot),
                // REPORT_DATA, MEASUREMENT, HOST_DATA and the first 48 bytes of R and S.
                "report"
                    if (0x050..0x0E0).contains(&index)
                        || (0x2A0..0x2D0).contains(&index)
                        || (0x2E8..0x318).contains(&index) =>
                {
                    Some(AttestationError::ReportSignature)
                }
                _ => None,
            };
            if let Some(expected) = certain {
                assert_eq!(error, expected, "{name} byte {index}");
            }
            total += 1;
        }
        eprintln!("{name}: {} alterations refused: {kinds:?}", bytes.len());
    }
    assert_eq!(
        total,
        m.report.len() + m.vcek.len() + m.ask.len() + m.ark.len()
    );
}

#[test]
fn certificates_outside_their_validity_are_refused() {
    let m = milan();
    let evidence = m.evidence();
    let validity = |der: &[u8]| {
        let v = *Certificate::from_der(der)
            .unwrap()
            .tbs_certificate()
            .validity();
        (v.not_before.to_system_time(), v.not_after.to_system_time())
    };
    let second = Duration::from_secs(1);
    let (vcek_from, vcek_until) = validity(&m.vcek);
    let policy = SevSnpPolicy::strict();
    verify_sev_snp(&evidence, &policy, vcek_from).unwrap();
    verify_sev_snp(&evidence, &policy, vcek_until).unwrap();
    assert_eq!(
        verify_sev_snp(&evidence, &policy, vcek_from - second),
        Err(AttestationError::CertificateNotYetValid { position: 2 })
    );
    assert_eq!(
        verify_sev_snp(&evidence, &policy, vcek_until + second),
        Err(AttestationError::CertificateExpired { position: 2 })
    );
    let (_, ark_until) = validity(&m.ark);
    assert_eq!(
        verify_sev_snp(&evidence, &policy, ark_until + second),
        Err(AttestationError::CertificateExpired { position: 0 })
    );
}

#[test]
fn pinned_arks_are_amds() {
    use aws_lc_rs::signature::{ParsedPublicKey, RSA_PSS_2048_8192_SHA384};
    let milan_ark = pem_certificates(&support::sev_file("cert_chain_milan")).unwrap()[1].clone();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/amd");
    let genoa = pem_certificates(&std::fs::read(dir.join("ark_genoa.pem")).unwrap()).unwrap();
    let turin = pem_certificates(&std::fs::read(dir.join("ark_turin.pem")).unwrap()).unwrap();
    for (product, der) in [
        (Product::Milan, &milan_ark),
        (Product::Genoa, &genoa[0]),
        (Product::Turin, &turin[0]),
    ] {
        assert_eq!(
            RootFingerprint::of_certificate(der),
            product.ark_fingerprint(),
            "{product}"
        );
        let cert = Certificate::from_der(der).unwrap();
        let tbs = cert.tbs_certificate();
        assert_eq!(
            tbs.subject().to_string(),
            tbs.issuer().to_string(),
            "{product} ARK is self-issued"
        );
        assert!(
            tbs.subject()
                .to_string()
                .contains(&format!("CN=ARK-{product}")),
            "{}",
            tbs.subject()
        );
        // Self-signed with RSASSA-PSS / SHA-384, verified by AWS-LC over the exact TBS bytes.
        let spki = tbs.subject_public_key_info();
        let key = ParsedPublicKey::new(
            &RSA_PSS_2048_8192_SHA384,
            spki.subject_public_key.as_bytes().unwrap(),
        )
        .unwrap();
        let tbs_der = x509_cert::der::Encode::to_der(tbs).unwrap();
        assert!(der.windows(tbs_der.len()).any(|w| w == tbs_der.as_slice()));
        key.verify_sig(&tbs_der, cert.signature().as_bytes().unwrap())
            .unwrap();
    }
}

#[test]
fn debug_policy_report_is_refused_by_default() {
    let chain = Chain::new(Product::Milan, synthetic::chip_id(1), SPL);
    let mut report = chain.report();
    report.u64(0x008, 0x3_0000 | 1 << 19); // POLICY.DEBUG
    let evidence = chain.evidence(&report.signed(&chain.vcek_key));
    let now = synthetic::after_issue();
    assert_eq!(
        verify_sev_snp(&evidence, &chain.policy(), now),
        Err(AttestationError::DebugGuest)
    );
    let allowed = verify_sev_snp(&evidence, &chain.policy().danger_allow_debug(), now).unwrap();
    assert!(allowed.is_debug());
    // The synthetic chain is not AMD's: a strict policy refuses it whatever the report says.
    assert_eq!(
        verify_sev_snp(&evidence, &SevSnpPolicy::strict().danger_allow_debug(), now),
        Err(AttestationError::UntrustedRoot)
    );
}

#[test]
fn another_chips_vcek_is_refused() {
    let chain = Chain::new(Product::Genoa, synthetic::chip_id(1), SPL);
    let other_chip = synthetic::chip_id(77);
    let (other_vcek, other_key) = chain.issue_vcek("other", &other_chip, SPL, "Genoa-B1");
    let report = chain.report().signed(&chain.vcek_key);
    let now = synthetic::after_issue();
    verify_sev_snp(&chain.evidence(&report), &chain.policy(), now).unwrap();

    // This chip's report with another chip's (valid, AMD-chained) VCEK.
    let swapped = SevSnpEvidence::from_parts(&report, &other_vcek, &chain.ask, &chain.ark)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(
        verify_sev_snp(&swapped, &chain.policy(), now),
        Err(AttestationError::ChipIdMismatch)
    );
    // Another chip claiming this chip's id: its signature is not by this chip's VCEK.
    let forged = chain.report().signed(&other_key);
    assert_eq!(
        verify_sev_snp(&chain.evidence(&forged), &chain.policy(), now),
        Err(AttestationError::ReportSignature)
    );
    // The real Milan report against a VCEK of another chip (the synthetic one).
    let m = milan();
    let foreign = SevSnpEvidence::from_parts(&m.report, &chain.vcek, &chain.ask, &chain.ark)
        .unwrap()
        .to_vec()
        .unwrap();
    assert!(verify_sev_snp(&foreign, &chain.policy(), now).is_err());
    assert_eq!(
        verify_sev_snp(&foreign, &SevSnpPolicy::strict(), now),
        Err(AttestationError::UntrustedRoot)
    );
}

#[test]
fn every_report_version_and_product_verifies() {
    for product in Product::ALL {
        let chain = Chain::new(product, synthetic::chip_id(9), SPL);
        let now = synthetic::after_issue();
        for version in 2..=5u32 {
            let mut report = chain.report();
            report.u32(0x000, version).u32(0x030, 2); // VMPL 2
            if version == 2 {
                report.set(0x188, &[0, 0, 0]);
            }
            if version == 5 {
                report.u64(0x1F8, 0x11).u64(0x200, 0x13);
            }
            let evidence = chain.evidence(&report.signed(&chain.vcek_key));
            let verified = verify_sev_snp(&evidence, &chain.policy().require_vmpl(2), now).unwrap();
            assert_eq!(verified.version(), version);
            assert_eq!(verified.product(), product);
            assert_eq!(verified.vmpl(), 2);
            let expected_tcb = Tcb {
                fmc: (product == Product::Turin).then_some(SPL.fmc),
                bootloader: SPL.bootloader,
                tee: SPL.tee,
                snp: SPL.snp,
                microcode: SPL.microcode,
            };
            assert_eq!(
                verified.reported_tcb(),
                expected_tcb,
                "{product} v{version}"
            );
            assert_eq!(
                verified.report().launch_mit_vector(),
                (version == 5).then_some(0x11)
            );
            assert_eq!(
                verified.report().current_mit_vector(),
                (version == 5).then_some(0x13)
            );
            assert_eq!(verified.report().cpuid().is_some(), version >= 3);
        }
        // The minimum TCB, per the product's layout (Turin has an FMC).
        let evidence = chain.evidence(&chain.report().signed(&chain.vcek_key));
        let minimum = TcbMinimum {
            bootloader: SPL.bootloader,
            tee: SPL.tee,
            snp: SPL.snp,
            microcode: SPL.microcode,
            fmc: SPL.fmc + 1,
        };
        let result = verify_sev_snp(&evidence, &chain.policy().with_min_tcb(minimum), now);
        if product == Product::Turin {
            assert_eq!(
                result,
                Err(AttestationError::TcbTooLow {
                    component: "fmc",
                    actual: SPL.fmc,
                    minimum: SPL.fmc + 1
                })
            );
        } else {
            result.unwrap();
        }
    }
}

#[test]
fn vcek_and_report_must_agree() {
    let chain = Chain::new(Product::Milan, synthetic::chip_id(3), SPL);
    let now = synthetic::after_issue();
    let verify = |report: &synthetic::Report| {
        SevSnpEvidence::from_parts(
            &report.signed(&chain.vcek_key),
            &chain.vcek,
            &chain.ask,
            &chain.ark,
        )
        .and_then(|evidence| evidence.verify(&chain.policy(), now))
    };
    // REPORTED_TCB other than the VCEK's (the SNP SPL, byte 6 on Milan).
    let mut tcb = SPL;
    tcb.snp += 1;
    let mut report = chain.report();
    report.u64(0x180, tcb.raw(Product::Milan));
    assert_eq!(
        verify(&report),
        Err(AttestationError::TcbMismatch { component: "snp" })
    );
    // CPUID of a Genoa in a Milan chain.
    let mut report = chain.report();
    report.set(0x188, &[0x19, 0x11, 0x01]);
    assert!(matches!(
        verify(&report),
        Err(AttestationError::ProductMismatch(_))
    ));
    // Masked chip id.
    let mut report = chain.report();
    report.u32(0x048, 0b10).set(0x1A0, &[0; 64]);
    assert_eq!(verify(&report), Err(AttestationError::ChipIdMasked));
    // Signed by a VLEK, an unknown version, another signature algorithm.
    let mut report = chain.report();
    report.u32(0x048, 1 << 2);
    assert_eq!(
        verify(&report),
        Err(AttestationError::UnsupportedSigningKey("VLEK"))
    );
    let mut report = chain.report();
    report.u32(0x000, 6);
    assert_eq!(
        verify(&report),
        Err(AttestationError::UnsupportedReportVersion(6))
    );
    let mut report = chain.report();
    report.u32(0x034, 2);
    assert!(matches!(
        verify(&report),
        Err(AttestationError::UnsupportedAlgorithm(_))
    ));
    // A VCEK that names another product than its ARK.
    let (genoa_named, key) = chain.issue_vcek("named", &chain.chip_id, SPL, "Genoa-B1");
    let evidence = SevSnpEvidence::from_parts(
        &chain.report().signed(&key),
        &genoa_named,
        &chain.ask,
        &chain.ark,
    )
    .unwrap()
    .to_vec()
    .unwrap();
    assert!(matches!(
        verify_sev_snp(&evidence, &chain.policy(), now),
        Err(AttestationError::ProductMismatch(_))
    ));
}

#[test]
fn truncated_empty_and_oversized_inputs_are_refused() {
    let evidence = milan().evidence();
    let verifier = Verifier::strict();
    for len in 0..evidence.len() {
        assert!(
            verifier.verify(&evidence[..len], at()).is_err(),
            "a {len}-byte prefix was accepted"
        );
    }
    assert!(matches!(
        verifier.verify(&[], at()),
        Err(AttestationError::Malformed(_))
    ));
    let mut oversized = evidence.clone();
    oversized.resize(MAX_EVIDENCE_LEN + 1, 0);
    assert!(matches!(
        verify_sev_snp(&oversized, &SevSnpPolicy::strict(), at()),
        Err(AttestationError::Malformed(_))
    ));
    // Trailing bytes after the CBOR map.
    let mut trailing = evidence.clone();
    trailing.push(0);
    assert!(verifier.verify(&trailing, at()).is_err());
    // A bare report is refused with a message that says what is missing.
    let bare = verifier.verify(&milan().report, at()).unwrap_err();
    assert!(bare.to_string().contains("VCEK"), "{bare}");

    // Reading stops at the limit, whatever the source: an endless reader yields one byte more
    // than the limit, then the read is refused.
    struct Counting<R> {
        inner: R,
        read: usize,
    }
    impl<R: Read> Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read += n;
            Ok(n)
        }
    }
    let mut endless = Counting {
        inner: std::io::repeat(0xA5),
        read: 0,
    };
    assert_eq!(
        read_evidence(&mut endless),
        Err(AttestationError::TooLarge {
            limit: MAX_EVIDENCE_LEN
        })
    );
    assert_eq!(endless.read, MAX_EVIDENCE_LEN + 1);
    let mut exact = Counting {
        inner: &evidence[..],
        read: 0,
    };
    assert_eq!(read_evidence(&mut exact).unwrap(), evidence);
}

#[test]
fn report_file_helpers() {
    let m = milan();
    assert_eq!(report_bytes(&m.report).unwrap(), m.report);
    assert_eq!(
        report_bytes(hex::encode(&m.report).as_bytes()).unwrap(),
        m.report
    );
    assert!(report_bytes(b"not hex").is_err());
}
