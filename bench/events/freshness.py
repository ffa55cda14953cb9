#!/usr/bin/env python3
"""How long after its acknowledgement an event shows in the audience index (bench/events/http.sh).

Runs while the ingestion load runs: every interval, sends one signed `feedback` event (a type
the load does not send) for the next demo customer, and from the moment the answer arrives
polls /v1/segments/count with the rule `evt_feedback_7d >= 1` as a staff member until the count
grows by one. Prints one line: "freshness-result probes=N p50_ms=... max_ms=... over_1s=K".

  freshness.py --base URL --key-id K --secret S --user U --password P --probes N
               [--interval S] [--first-customer I]
"""
import argparse
import hashlib
import hmac
import http.cookiejar
import json
import os
import time
import urllib.request


def sign(key_id, secret, method, target, body):
    ts = str(int(time.time() * 1000))
    nonce = os.urandom(16).hex()
    path, _, query = target.partition("?")
    to_sign = "\n".join([
        "MCT-HMAC-SHA256", method, path,
        "&".join(sorted(p for p in query.split("&") if p)), ts, nonce,
        hashlib.sha256(body).hexdigest()])
    sig = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return (f"MCT-HMAC-SHA256 Credential={key_id}, Timestamp={ts}, Nonce={nonce}, "
            f"Signature={sig}")


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--base", required=True)
    a.add_argument("--key-id", required=True)
    a.add_argument("--secret", required=True)
    a.add_argument("--user", required=True)
    a.add_argument("--password", required=True)
    a.add_argument("--probes", type=int, default=5)
    a.add_argument("--interval", type=float, default=1.0)
    a.add_argument("--first-customer", type=int, default=1)
    args = a.parse_args()

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = opener.open(urllib.request.Request(
        args.base + "/v1/auth/login",
        data=json.dumps({"username": args.user, "password": args.password}).encode(),
        headers={"Content-Type": "application/json"}))
    csrf = json.load(login)["csrf_token"]
    rule = json.dumps({"rule": "evt_feedback_7d >= 1"}).encode()

    def count():
        r = opener.open(urllib.request.Request(
            args.base + "/v1/segments/count", data=rule,
            headers={"Content-Type": "application/json", "X-CSRF-Token": csrf}))
        return json.load(r)["count"]

    latencies = []
    for i in range(args.probes):
        before = count()
        customer = "C%09d" % (args.first_customer + i)
        body = json.dumps([{"id": "probe-%d-%d" % (os.getpid(), i), "type": "feedback",
                            "customer": customer, "occurred_at": int(time.time() * 1000),
                            "properties": {"score": 9}}]).encode()
        req = urllib.request.Request(args.base + "/v1/events", data=body, headers={
            "Content-Type": "application/json",
            "Authorization": sign(args.key_id, args.secret, "POST", "/v1/events", body)})
        answer = json.load(urllib.request.urlopen(req))
        acked = time.monotonic()
        if answer["accepted"] != 1:
            raise SystemExit("probe event not accepted: %s" % answer)
        while count() <= before:
            if time.monotonic() - acked > 30:
                raise SystemExit("probe event not visible after 30 s")
            time.sleep(0.01)
        latencies.append((time.monotonic() - acked) * 1000)
        time.sleep(max(0.0, args.interval - (time.monotonic() - acked)))
    latencies.sort()
    print("freshness-result probes=%d p50_ms=%.0f max_ms=%.0f over_1s=%d" % (
        len(latencies), latencies[len(latencies) // 2], latencies[-1],
        sum(1 for x in latencies if x > 1000)))


if __name__ == "__main__":
    main()
