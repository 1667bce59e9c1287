"""Runnable EDDL examples (`python -m deephealth.eddl.examples.<name>`)."""
