//! SHA-256 digests for the build manifest and the "same file already on the index" check, with
//! the `sha2` crate; files are hashed as they are read, never loaded whole.

use std::{io::Read, path::Path};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// The lowercase hex digest of `data`, as indexes print it.
pub fn hex(data: &[u8]) -> String {
    to_hex(&Sha256::digest(data))
}

/// A digest fed piece by piece (the source digest covers many files).
#[derive(Default)]
pub struct Hasher(Sha256);

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// Feeds the content of `path`, read in blocks; returns its length.
    pub fn update_file(&mut self, path: &Path) -> Result<u64> {
        let mut file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut buf = vec![0; 64 * 1024];
        let mut len = 0;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => return Ok(len),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
            };
            self.0.update(&buf[..n]);
            len += n as u64;
        }
    }

    pub fn hex(self) -> String {
        to_hex(&self.0.finalize())
    }
}

/// The digest and length of the file at `path`.
pub fn file(path: &Path) -> Result<(String, u64)> {
    let mut h = Hasher::default();
    let len = h.update_file(path)?;
    Ok((h.hex(), len))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn known_digests() {
        // FIPS 180-4 examples, and lengths around the 55/56/64-byte padding boundaries.
        let cases: &[(&[u8], &str)] = &[
            (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
            (&[b'a'; 55], "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
            (&[b'a'; 64], "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
            (&[b'a'; 1000], "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"),
        ];
        for (input, want) in cases {
            assert_eq!(super::hex(input), *want, "{} bytes", input.len());
        }
        // A file, streamed in blocks, gives the digest of its bytes.
        let scratch = crate::scratch::Scratch::new("sha256").unwrap();
        let path = scratch.join("data");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        assert_eq!(super::file(&path).unwrap(), (super::hex(&data), data.len() as u64));
        std::fs::remove_file(path).unwrap();
    }

    /// Throughput in the profile the tests are built with (the dev profile): run by
    /// `scripts/bench/sha256.sh`, never as part of the suite.
    #[test]
    #[ignore = "a benchmark: scripts/bench/sha256.sh"]
    fn throughput() {
        let data: Vec<u8> = (0..64u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let mut rates = Vec::new();
        for _ in 0..5 {
            let start = std::time::Instant::now();
            std::hint::black_box(super::hex(std::hint::black_box(&data)));
            rates.push(data.len() as f64 / 1e6 / start.elapsed().as_secs_f64());
        }
        rates.sort_by(f64::total_cmp);
        println!("sha256 throughput: median {:.0} MB/s over 5 runs of 64 MiB", rates[2]);
    }
}
