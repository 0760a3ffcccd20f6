//! A tiny SMTP server on 127.0.0.1 for the failure notice tests: it speaks just enough SMTP
//! (220, EHLO/HELO 250, MAIL/RCPT 250, DATA 354 … `.` 250, RSET/NOOP 250, QUIT 221) and
//! records every message it accepts.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One accepted message.
#[derive(Clone, Debug, Default)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The DATA section (headers and body, dot-unstuffed, quoted-printable undone).
    pub data: String,
}

/// The running sink; it stops with the test's runtime.
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
        let port = listener.local_addr().expect("smtp addr").port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&mails);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, Arc::clone(&kept)));
            }
        });
        Self { port, mails }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().expect("mails").clone()
    }
}

async fn session(stream: tokio::net::TcpStream, mails: Arc<Mutex<Vec<Mail>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut mail = Mail::default();
    if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
        return;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250 sink\r\n"
        } else if let Some(from) = upper.strip_prefix("MAIL FROM:") {
            mail = Mail {
                from: from.trim().to_owned(),
                ..Mail::default()
            };
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            mail.to
                .push(line[8..].trim().trim_matches(['<', '>']).to_owned());
            b"250 ok\r\n"
        } else if upper == "DATA" {
            if write.write_all(b"354 go on\r\n").await.is_err() {
                return;
            }
            while let Ok(Some(data)) = lines.next_line().await {
                if data == "." {
                    break;
                }
                mail.data.push_str(data.strip_prefix('.').unwrap_or(&data));
                mail.data.push('\n');
            }
            if mail
                .data
                .contains("Content-Transfer-Encoding: quoted-printable")
            {
                // Enough quoted-printable for ASCII text: soft line breaks and `=`.
                mail.data = mail.data.replace("=\n", "").replace("=3D", "=");
            }
            mails.lock().expect("mails").push(std::mem::take(&mut mail));
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"250 ok\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}
