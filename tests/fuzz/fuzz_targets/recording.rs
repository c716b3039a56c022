//! Recordings (`smectl test --replay`): any text is read or refused; what
//! is read writes back as JSON that reads the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sme::backend::recording::RecordFile;

fuzz_target!(|text: &str| {
    if let Ok(record) = RecordFile::parse(text) {
        let written = serde_json::to_string(&record).unwrap();
        assert_eq!(RecordFile::parse(&written).unwrap(), record);
    }
});
