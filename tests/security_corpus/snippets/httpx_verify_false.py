# expect: HS111
import httpx

client = httpx.Client(verify=False)
