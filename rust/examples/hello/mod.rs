//! The message both hello-world examples agree on: `struct hello_world`
//! of examples/hello.h (u32 version, u32 nr_messages, char[3][16]), in
//! native byte order, so that the C and Rust examples read each other.

// Each example uses one direction.
#![allow(dead_code)]

/// HELLO_CHANNEL of examples/hello.h.
pub const CHANNEL: &str = "mmsync_hello";

const MSG: usize = 16;
const NR: usize = 3;
const SIZE: usize = 8 + NR * MSG;

pub struct Hello {
    pub version: u32,
    pub messages: Vec<String>,
}

impl Hello {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; SIZE];
        let n = self.messages.len().min(NR);
        b[0..4].copy_from_slice(&self.version.to_ne_bytes());
        b[4..8].copy_from_slice(&(n as u32).to_ne_bytes());
        for (i, m) in self.messages.iter().take(n).enumerate() {
            let m = &m.as_bytes()[..m.len().min(MSG - 1)];
            b[8 + i * MSG..][..m.len()].copy_from_slice(m);
        }
        b
    }

    pub fn from_bytes(b: &[u8]) -> Option<Hello> {
        if b.len() != SIZE {
            return None;
        }
        let word = |i: usize| u32::from_ne_bytes(b[i..i + 4].try_into().unwrap());
        let n = (word(4) as usize).min(NR);
        let messages = (0..n)
            .map(|i| {
                let m = &b[8 + i * MSG..][..MSG];
                let end = m.iter().position(|&c| c == 0).unwrap_or(MSG);
                String::from_utf8_lossy(&m[..end]).into_owned()
            })
            .collect();
        Some(Hello {
            version: word(0),
            messages,
        })
    }
}
