//! `ctx.storage.transactionSync`, which workers-rs does not wrap.
//!
//! The callback is a wasm-bindgen stack closure: it may borrow locals because JS calls it
//! synchronously and cannot keep it. Returning `Err` from it throws, which rolls back.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::Storage;

#[wasm_bindgen]
extern "C" {
    type TransactionalStorage;

    #[wasm_bindgen(method, catch, js_name = transactionSync)]
    fn transaction_sync(
        this: &TransactionalStorage,
        work: &mut dyn FnMut() -> Result<(), JsValue>,
    ) -> Result<JsValue, JsValue>;
}

#[derive(Debug, thiserror::Error)]
#[error("transaction failed: {0}")]
pub struct TransactionError(pub String);

/// Runs `work` in a SQLite transaction: its writes all commit, or none do. A failure of the
/// transaction itself becomes an error through `failed`.
pub fn atomically<T, E>(
    storage: &Storage,
    work: impl FnOnce() -> Result<T, E>,
    failed: impl FnOnce(TransactionError) -> E,
) -> Result<T, E> {
    let raw: &TransactionalStorage = storage.as_raw().unchecked_ref();
    let mut work = Some(work);
    let mut outcome: Option<Result<T, E>> = None;
    let call = {
        let mut run = || -> Result<(), JsValue> {
            let Some(work) = work.take() else {
                return Ok(());
            };
            let result = work();
            let failed = result.is_err();
            outcome = Some(result);
            if failed {
                Err(JsValue::from_str("rolled back"))
            } else {
                Ok(())
            }
        };
        raw.transaction_sync(&mut run)
    };
    match (outcome, call) {
        (Some(Err(err)), _) => Err(err),
        (Some(Ok(value)), Ok(_)) => Ok(value),
        (Some(Ok(_)), Err(js)) | (None, Err(js)) => {
            Err(failed(TransactionError(format!("{js:?}"))))
        }
        (None, Ok(_)) => Err(failed(TransactionError(
            "the transaction did not run".into(),
        ))),
    }
}
