//! Outgoing mail: SMTP (lettre) when `email.smtp_url` is set, otherwise `.eml` files in
//! `<data_dir>/mailbox/` and a log line, so a single-node install works with no mail server.

use std::path::PathBuf;

use anyhow::Context;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor, message::Mailbox,
    message::header::ContentType,
};

use crate::config::Config;

pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Directory {
        dir: PathBuf,
        from: Mailbox,
    },
}

impl Mailer {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let from: Mailbox = config.email.from.parse().context("email.from")?;
        Ok(match &config.email.smtp_url {
            Some(url) => Self::Smtp {
                transport: AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .context("email.smtp_url")?
                    .build(),
                from,
            },
            None => Self::Directory {
                dir: config.data_dir.join("mailbox"),
                from,
            },
        })
    }

    /// Send a plain-text mail. The body may carry secrets (links with tokens): it is never logged.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> anyhow::Result<()> {
        let (Self::Smtp { from, .. } | Self::Directory { from, .. }) = self;
        let message = Message::builder()
            .from(from.clone())
            .to(to.parse().context("recipient address")?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .context("building mail")?;
        match self {
            Self::Smtp { transport, .. } => {
                transport
                    .send(message)
                    .await
                    .context("sending mail over SMTP")?;
                tracing::info!(to, subject, "mail sent");
            }
            Self::Directory { dir, .. } => {
                tokio::fs::create_dir_all(dir).await?;
                // Written aside and renamed, so whoever watches the directory never reads a
                // half-written mail.
                let name = format!("{}.eml", uuid::Uuid::now_v7());
                let partial = dir.join(format!(".{name}.partial"));
                let path = dir.join(name);
                crate::identity::keys::write_private_file(&partial, &message.formatted())?;
                tokio::fs::rename(&partial, &path)
                    .await
                    .with_context(|| format!("moving the mail to {}", path.display()))?;
                tracing::info!(to, subject, path = %path.display(), "mail written to mailbox (no email.smtp_url configured)");
            }
        }
        Ok(())
    }

    /// Send in the background; failures are logged. Callers never wait on (or reveal) delivery.
    pub fn send_later(self: &std::sync::Arc<Self>, to: String, subject: String, body: String) {
        let mailer = self.clone();
        tokio::spawn(async move {
            if let Err(e) = mailer.send(&to, &subject, body).await {
                tracing::warn!(to, subject, error = %format!("{e:#}"), "mail delivery failed");
            }
        });
    }
}
