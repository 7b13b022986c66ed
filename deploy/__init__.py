"""Deployment glue for AWS: Zappa settings generated from the topology and Terraform's outputs
(`python -m deploy.settings`), Zappa's post-deploy callback (`deploy.callbacks`) and the tasks a
deployed function runs on demand (`deploy.tasks`, e.g. database migrations). See docs/deploy.md."""
