# expect: HS109
# The key is split in two literals so that this file holds no key-shaped text; Python joins
# them into one string, which is what the rule reads.
import boto3

s3 = boto3.client('s3', aws_access_key_id='AKIA' 'Q3EGRXPL7TZMW2VN')
