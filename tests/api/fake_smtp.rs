//! A real SMTP server on loopback, small enough to read: it accepts every message and keeps
//! it, so tests read what a supporter would receive; or, while told to, turns every message
//! away with a temporary failure, as a mail server that is down or overloaded does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct FakeSmtp {
    pub url: String,
    messages: Arc<Mutex<Vec<String>>>,
    refusing: Arc<AtomicBool>,
}

impl FakeSmtp {
    pub async fn start() -> FakeSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port for the fake SMTP server");
        let url = format!("smtp://{}", listener.local_addr().expect("an address"));
        let messages: Arc<Mutex<Vec<String>>> = Arc::default();
        let refusing: Arc<AtomicBool> = Arc::default();
        let (kept, refuse) = (messages.clone(), refusing.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (kept, refuse) = (kept.clone(), refuse.clone());
                tokio::spawn(async move {
                    let (reader, mut writer) = socket.into_split();
                    let mut lines = BufReader::new(reader).lines();
                    let _ = writer.write_all(b"220 fake.smtp ESMTP ready\r\n").await;
                    let mut data: Option<String> = None;
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Some(body) = data.as_mut() {
                            if line == "." {
                                kept.lock().expect("not poisoned").push(std::mem::take(body));
                                data = None;
                                let _ = writer.write_all(b"250 2.0.0 kept\r\n").await;
                            } else {
                                body.push_str(line.strip_prefix('.').unwrap_or(&line));
                                body.push('\n');
                            }
                            continue;
                        }
                        let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                        let answer: &[u8] = match verb.as_str() {
                            "MAIL" if refuse.load(Ordering::SeqCst) => b"451 4.3.0 try again later\r\n",
                            "EHLO" | "HELO" => b"250-fake.smtp\r\n250 8BITMIME\r\n",
                            "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 2.1.0 ok\r\n",
                            "DATA" => {
                                data = Some(String::new());
                                b"354 go ahead\r\n"
                            }
                            "QUIT" => {
                                let _ = writer.write_all(b"221 2.0.0 bye\r\n").await;
                                break;
                            }
                            _ => b"502 5.5.2 not implemented\r\n",
                        };
                        let _ = writer.write_all(answer).await;
                    }
                });
            }
        });
        FakeSmtp { url, messages, refusing }
    }

    /// Turns every message away (`451`, try again later) until told otherwise.
    pub fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }

    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().expect("not poisoned").clone()
    }

    /// Waits (bounded) until `count` messages arrived; emails are sent after the answer.
    pub async fn wait_for(&self, count: usize) -> Vec<String> {
        self.wait_until(|messages| messages.len() >= count).await
    }

    /// Waits (bounded) until the messages arrived so far satisfy `done`.
    pub async fn wait_until(&self, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        for _ in 0..200 {
            if done(&self.messages()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        self.messages()
    }
}

/// The decoded text body of a message (lettre may use quoted-printable or base64).
pub fn body_text(message: &str) -> String {
    let (headers, body) = message.split_once("\n\n").unwrap_or((message, ""));
    let encoding = headers
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase().strip_prefix("content-transfer-encoding:").map(|v| v.trim().to_owned())
        })
        .unwrap_or_default();
    match encoding.as_str() {
        "base64" => {
            let joined: String = body.split_whitespace().collect();
            String::from_utf8(decode_base64(&joined)).unwrap_or_default()
        }
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.to_owned(),
    }
}

/// The subject, with its RFC 2047 encoded words (`=?utf-8?b?...?=`) decoded.
/// A long subject is folded over several lines, and the space between two encoded words is not
/// part of it.
pub fn subject(message: &str) -> String {
    let mut lines = message.lines().skip_while(|line| !line.starts_with("Subject: "));
    let mut raw =
        lines.next().and_then(|line| line.strip_prefix("Subject: ")).unwrap_or_default().trim().to_owned();
    for folded in lines.take_while(|line| line.starts_with([' ', '\t'])) {
        raw.push(' ');
        raw.push_str(folded.trim());
    }
    let mut out = String::new();
    let mut rest = raw.as_str();
    let mut decoded_before = false;
    while let Some(start) = rest.to_ascii_lowercase().find("=?utf-8?b?") {
        let between = &rest[..start];
        if !(decoded_before && between.trim().is_empty()) {
            out.push_str(between);
        }
        decoded_before = true;
        let encoded = &rest[start + 10..];
        let Some(end) = encoded.find("?=") else { break };
        out.push_str(&String::from_utf8_lossy(&decode_base64(&encoded[..end])));
        rest = &encoded[end + 2..];
    }
    out.push_str(rest);
    out
}

pub fn decode_base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buffer = 0_u32;
    let mut bits = 0;
    for byte in text.bytes().filter(|b| *b != b'=') {
        let Some(value) = ALPHABET.iter().position(|c| *c == byte) else { continue };
        buffer = (buffer << 6) | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

fn decode_quoted_printable(text: &str) -> String {
    let mut bytes = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let (line, soft_break) = match line.strip_suffix('=') {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        let raw = line.as_bytes();
        let mut index = 0;
        while index < raw.len() {
            if raw[index] == b'='
                && index + 3 <= raw.len()
                && let Ok(value) = u8::from_str_radix(&line[index + 1..index + 3], 16)
            {
                bytes.push(value);
                index += 3;
                continue;
            }
            bytes.push(raw[index]);
            index += 1;
        }
        if !soft_break && lines.peek().is_some() {
            bytes.push(b'\n');
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
