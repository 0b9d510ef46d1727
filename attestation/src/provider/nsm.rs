//! The Nitro Secure Module: real attestation documents, signed by AWS hardware.
//!
//! Works only inside a Nitro enclave (it opens `/dev/nsm`); outside one, [`NsmProvider::open`]
//! fails. Enabled by the cargo feature `nsm`.

use aws_nitro_enclaves_nsm_api::api::{Request, Response};
use aws_nitro_enclaves_nsm_api::driver::{nsm_exit, nsm_init, nsm_process_request};
use serde_bytes::ByteBuf;

use crate::error::{AttestationError, Result};
use crate::provider::{AttestationProvider, check_inputs};

/// A handle on the enclave's Nitro Secure Module device. Closed on drop.
pub struct NsmProvider {
    fd: i32,
}

impl NsmProvider {
    /// Opens `/dev/nsm`.
    pub fn open() -> Result<Self> {
        let fd = nsm_init();
        if fd < 0 {
            return Err(AttestationError::Provider(
                "cannot open /dev/nsm (not inside a Nitro enclave?)".to_owned(),
            ));
        }
        Ok(Self { fd })
    }
}

impl AttestationProvider for NsmProvider {
    fn attest(
        &self,
        nonce: Option<&[u8]>,
        user_data: Option<&[u8]>,
        public_key: Option<&[u8]>,
    ) -> Result<Vec<u8>> {
        check_inputs(nonce, user_data, public_key)?;
        let to_buf = |field: Option<&[u8]>| field.map(|bytes| ByteBuf::from(bytes.to_vec()));
        let request = Request::Attestation {
            user_data: to_buf(user_data),
            nonce: to_buf(nonce),
            public_key: to_buf(public_key),
        };
        match nsm_process_request(self.fd, request) {
            Response::Attestation { document } => Ok(document),
            Response::Error(code) => Err(AttestationError::Provider(format!("NSM: {code:?}"))),
            _ => Err(AttestationError::Provider(
                "NSM: unexpected response".to_owned(),
            )),
        }
    }
}

impl Drop for NsmProvider {
    fn drop(&mut self) {
        nsm_exit(self.fd);
    }
}
