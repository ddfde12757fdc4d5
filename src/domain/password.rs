use super::Invalid;

const MIN_LEN: usize = 8;
/// Bounded so hashing cost cannot be driven up by huge inputs.
const MAX_LEN: usize = 256;
/// zxcvbn score (0–4) a new password must reach.
const MIN_SCORE: u8 = 2;

/// A password that satisfies the password policy. Only new passwords are checked; a login
/// password is just compared.
#[derive(Clone)]
pub struct NewPassword(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordProblem {
    TooShort,
    TooLong,
    TooWeak(String),
}

impl NewPassword {
    /// `context` holds the user's own words (username, email, name), which make a password weak.
    pub fn parse(raw: &str, context: &[&str]) -> Result<Self, Invalid> {
        Self::check(raw, context).map_err(|p| {
            Invalid::new(
                "password",
                match p {
                    PasswordProblem::TooShort => format!("must be at least {MIN_LEN} characters"),
                    PasswordProblem::TooLong => format!("must be at most {MAX_LEN} characters"),
                    PasswordProblem::TooWeak(hint) => format!("is too easy to guess{hint}"),
                },
            )
        })?;
        Ok(Self(raw.to_string()))
    }

    fn check(raw: &str, context: &[&str]) -> Result<(), PasswordProblem> {
        let chars = raw.chars().count();
        if chars < MIN_LEN {
            return Err(PasswordProblem::TooShort);
        }
        if chars > MAX_LEN {
            return Err(PasswordProblem::TooLong);
        }
        let estimate = zxcvbn::zxcvbn(raw, context);
        if u8::from(estimate.score()) < MIN_SCORE {
            let hint = estimate
                .feedback()
                .and_then(|f| f.warning().map(|w| format!(": {w}")))
                .unwrap_or_default();
            return Err(PasswordProblem::TooWeak(hint));
        }
        Ok(())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_bounds() {
        assert_eq!(
            NewPassword::check("Ab1!", &[]),
            Err(PasswordProblem::TooShort)
        );
        assert_eq!(
            NewPassword::check(&"x".repeat(257), &[]),
            Err(PasswordProblem::TooLong)
        );
    }

    #[test]
    fn weak_passwords_are_refused() {
        for weak in ["password", "12345678", "qwertyuiop", "aaaaaaaaaaaa"] {
            assert!(
                matches!(
                    NewPassword::check(weak, &[]),
                    Err(PasswordProblem::TooWeak(_))
                ),
                "{weak}"
            );
        }
        // The user's own name makes a password guessable.
        assert!(NewPassword::check("margaret1987", &["margaret1987"]).is_err());
    }

    #[test]
    fn strong_passphrases_pass() {
        assert!(NewPassword::check("correct horse battery staple", &[]).is_ok());
        assert!(NewPassword::check("tundra-Velvet-41-orbit", &["alice"]).is_ok());
    }
}
