# E-mail: the notification consumer's sender and, while the account is in the SES sandbox, its
# recipients. On apply SES mails a verification link to each identity; until it is clicked, sending
# fails (docs/deploy.md, "E-mail"). In the sandbox SES also refuses every recipient that is not a
# verified identity, and it authorizes the send against the sender's *and* each recipient's
# identity, so the consumers' role is allowed ses:SendEmail on all of them (iam.tf).

locals {
  recipient_emails = toset(compact(concat(
    [var.operator_email, var.ad_manager_email],
    values(var.factory_manager_emails),
  )))
  ses_identity_arns = concat(
    [aws_ses_email_identity.sender.arn],
    [for email in sort(tolist(local.recipient_emails)) :
    "arn:${local.partition}:ses:${local.region}:${local.account_id}:identity/${email}"],
  )
}

resource "aws_ses_email_identity" "sender" {
  email = var.ses_sender_email
}

resource "aws_ses_email_identity" "recipient" {
  for_each = var.verify_recipient_identities ? setsubtract(local.recipient_emails, [var.ses_sender_email]) : toset([])

  email = each.value
}
