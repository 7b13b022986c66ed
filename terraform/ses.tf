# The notification consumer's sender address. On apply SES mails a verification link to it; until
# it is clicked, sending fails. A new account is in the SES sandbox: recipients must be verified too
# (or request production access) - see README.md.

resource "aws_ses_email_identity" "sender" {
  email = var.ses_sender_email
}
