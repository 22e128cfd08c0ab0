#!/bin/sh
# Creates the bucket Silt writes to. LocalStack runs this once S3 is up: the compose
# file mounts it into /etc/localstack/init/ready.d/. Safe to run again.
set -eu

BUCKET="${SILT_BUCKET:-silt}"

if awslocal s3api head-bucket --bucket "$BUCKET" >/dev/null 2>&1; then
  echo "init-s3: bucket $BUCKET already exists"
else
  awslocal s3 mb "s3://$BUCKET"
  echo "init-s3: created bucket $BUCKET"
fi
