#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/<target>/seed-*: real CSRs from tests/fixtures/csr, a
certificate chain made here with the openssl command line, databags like the unit tests use, and
hostile inputs. Run once; the output is committed (re-running regenerates the certificates, so
only do it to change the seeds). Crash inputs added by hand (crash-*) are left alone."""

import base64
import json
import pathlib
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "fuzz" / "corpus"
CSRS = ROOT / "tests" / "fixtures" / "csr"
FS, GS = "\x1e", "\x1d"


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / f"seed-{name}").write_bytes(data)


def pem_to_der(pem):
    body = "".join(l for l in pem.strip().splitlines() if not l.startswith("-----"))
    return base64.b64decode(body)


def make_chain():
    """root -> intermediate -> leaf, valid 2025..2036 or so (targets use a fixed 'now', 2027)."""
    with tempfile.TemporaryDirectory() as t:
        def run(*args):
            subprocess.run(["openssl", *args], cwd=t, check=True, capture_output=True)
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "root.key", "-out", "root.pem", "-days", "3650", "-subj", "/CN=Fuzz Root",
            "-addext", "basicConstraints=critical,CA:TRUE")
        run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "int.key", "-out", "int.csr", "-subj", "/CN=Fuzz Intermediate")
        (pathlib.Path(t) / "ca.ext").write_text("basicConstraints=critical,CA:TRUE,pathlen:0\n")
        run("x509", "-req", "-in", "int.csr", "-CA", "root.pem", "-CAkey", "root.key",
            "-CAcreateserial", "-out", "int.pem", "-days", "3000", "-extfile", "ca.ext")
        run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=app.example.com")
        (pathlib.Path(t) / "leaf.ext").write_text(
            "basicConstraints=CA:FALSE\nsubjectAltName=DNS:app.example.com,IP:10.0.0.1\n")
        run("x509", "-req", "-in", "leaf.csr", "-CA", "int.pem", "-CAkey", "int.key",
            "-CAcreateserial", "-out", "leaf.pem", "-days", "2000", "-extfile", "leaf.ext")
        text = subprocess.run(["openssl", "x509", "-in", "leaf.pem", "-text"], cwd=t, check=True,
                              capture_output=True, text=True).stdout
        read = lambda n: (pathlib.Path(t) / n).read_text()
        return read("root.pem"), read("int.pem"), read("leaf.pem"), text


def main():
    csr = {p.stem: p.read_text() for p in sorted(CSRS.glob("*.pem"))}
    rsa, ec, p384 = csr["rsa2048_full"], csr["ec_p256_ip"], csr["ec_p384"]
    root, inter, leaf, leaf_text = make_chain()

    # modern_requirer: the certificate_signing_requests value.
    m = "modern_requirer"
    write(m, "one", json.dumps([{"certificate_signing_request": rsa, "ca": False}]))
    write(m, "two", json.dumps([{"certificate_signing_request": ec},
                                {"certificate_signing_request": p384, "ca": "True"}]))
    write(m, "ca-forms", json.dumps([{"certificate_signing_request": "x", "ca": c}
                                     for c in [None, 0, 1, "1", " false ", "FALSE", 2, -1, 1.5,
                                               [], {}, "maybe"]]))
    write(m, "bad-entries", '[{"certificate_signing_request": 7}, {"certificate_signing_request": ""}, {}, {"ca": true}]')
    write(m, "not-object", '[{"certificate_signing_request": "a"}, "b"]')
    write(m, "not-list", '{"certificate_signing_request": "a"}')
    write(m, "not-json", "-----BEGIN CERTIFICATE REQUEST-----")
    write(m, "empty", "   ")
    write(m, "deep", "[" * 200 + "]" * 200)
    write(m, "unicode-ca", json.dumps([{"certificate_signing_request": "x", "ca": "\u00e9" * 250}],
                                      ensure_ascii=False))
    write(m, "surrogate", '[{"certificate_signing_request": "\\ud800", "ca": "\\udc00"}]')
    write(m, "big-number", '[{"certificate_signing_request": "x", "ca": 1e400}]')

    # provider_app_data: certificates FS request_errors FS capabilities.
    p = "provider_app_data"
    cert_entry = {"ca": root, "certificate_signing_request": ec, "certificate": leaf,
                  "chain": [leaf, inter, root]}
    err_entry = {"csr": rsa, "error": {"code": 102, "name": "DOMAIN_NOT_ALLOWED",
                                       "message": "not allowed", "reason": "r",
                                       "provider": "tls-provider", "endpoint": "certificates"}}
    caps = {"supports_ip_sans": True, "supports_wildcard_dns": False, "supports_subdomain": True,
            "supports_ca_certificates": False, "allowed_domains": ["example.com"],
            "provider_type": "self-signed"}
    write(p, "full", FS.join([json.dumps([cert_entry, dict(cert_entry, revoked=True)]),
                              json.dumps([err_entry]), json.dumps(caps)]))
    write(p, "only-certs", json.dumps([cert_entry]))
    write(p, "null-caps", FS.join(["[]", "[]", "null"]))
    write(p, "empty-values", FS.join(["", "", ""]))
    write(p, "wrong-types", FS.join(['{"a": 1}', '[1, {"csr": 2}]', "[true]"]))
    write(p, "partial", FS.join(['[{"ca": "x", "certificate": "y"}, {"ca": null, "chain": null}]',
                                 '[{"csr": "c", "error": {"code": -1, "name": 3}}]',
                                 '{"allowed_domains": "example.com", "extra": 1}']))
    write(p, "big-code", FS.join(["", '[{"csr": "c", "error": {"code": 4294967296, "name": "n", "message": "m"}}]']))

    # legacy_relation: units GS-separated, each name FS key FS value ...
    def unit(name, **kv):
        return FS.join([name] + [x for k, v in kv.items() for x in (k.replace("__", "_"), v)])

    full = {"unit_name": "etcd_0", "common_name": "etcd0.example.com",
            "sans": '["b.example.com", "10.0.0.1", "b.example.com"]',
            "cert_requests": '{"x.example.com": {"sans": ["y.example.com"]}, "z.example.com": {"sans": []}}',
            "client_cert_requests": '{"admin": {"sans": null}}',
            "application_cert_requests": '{"app.example.com": {"sans": ["10.0.0.9"]}}',
            "intermediate_cert_requests": '{"My Sub CA": {"sans": []}}'}
    l = "legacy_relation"
    write(l, "full", unit("etcd/0", **full))
    write(l, "two-units", GS.join([unit("etcd/0", **full),
                                   unit("etcd/1", common_name="etcd1.example.com", sans="null")]))
    write(l, "collision", GS.join([unit("a/0", unit_name="b_0", common_name="a"),
                                   unit("b/0", common_name="b"),
                                   unit("c/0", unit_name="b_0", common_name="c")]))
    write(l, "bad-unit-name", unit("x/0", unit_name="\u00e9t\u00e9/../" * 40, common_name="x"))
    write(l, "hostile-names", unit("x/1", common_name="\u00e9" * 70, sans='["a b", "", "\\u0000"]',
                                   cert_requests='{"": {}, "\u00e9\u00e9": {"sans": "x"}, "ok": ["a.example"], "n": null, "bad\\u0007": {}}'))
    write(l, "wildcards", unit("w/0", common_name="*.com",
                               sans='["*.example.com", "*.co.uk", "10.0.0.1", "::1", "a..b", "-a.example.com"]',
                               cert_requests='{"*.internal": {"sans": ["*.*.example.com"]}}'))
    write(l, "wrong-shapes", unit("y/0", cert_requests="[]", client_cert_requests='"x"',
                                  application_cert_requests="not json",
                                  intermediate_cert_requests="null", sans="{}", common_name="y"))
    many = json.dumps({f"h{i}.example": {"sans": []} for i in range(101)})
    write(l, "too-many", unit("z/0", cert_requests=many))
    write(l, "empty", "")

    # csr: PEM text (fixtures) and DER.
    c = "csr"
    for name, text in csr.items():
        write(c, name, text)
    for name in ["rsa2048_full", "ec_p256_ip", "ec_critical_ext", "ec_ca_request", "ec_no_cn"]:
        write(c, name + ".der", pem_to_der(csr[name]))
    write(c, "two-blocks", ec + "\n" + p384)
    write(c, "new-marker", ec.replace("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"))
    write(c, "certificate", leaf)
    write(c, "truncated", ec[: len(ec) // 2])
    write(c, "no-end", ec.replace("-----END CERTIFICATE REQUEST-----", ""))
    write(c, "bad-base64", ec.replace("M", "*", 3))
    write(c, "trailing-der", pem_to_der(ec) + b"\x00\x00")

    # csr_fast_differential: DER requests (those of the fixture keys are re-signed by the target).
    f = "csr_fast_differential"
    for name in ["ec_p256_ip", "rsa2048_full", "ec_critical_ext", "ec_ca_request", "ec_p384",
                 "rsa4096"]:
        write(f, name + ".der", pem_to_der(csr[name]))

    # certs: chains as PEM text, and concatenated DER.
    k = "certs"
    write(k, "chain", leaf + inter + root)
    write(k, "chain-no-root", leaf + inter)
    write(k, "unordered", inter + leaf + root)
    write(k, "root-only", root)
    write(k, "leaf-text", leaf_text + inter)
    write(k, "crlf", (leaf + inter + root).replace("\n", "\r\n"))
    write(k, "chain.der", pem_to_der(leaf) + pem_to_der(inter) + pem_to_der(root))
    write(k, "leaf-root.der", pem_to_der(leaf) + pem_to_der(root))
    write(k, "csr-not-cert", ec)
    write(k, "no-end", leaf.replace("-----END CERTIFICATE-----", ""))
    write(k, "garbage-block", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")

    # action_params: action-get output, or one PEM parameter's value.
    a = "action_params"
    b64 = lambda s: base64.b64encode(s.encode()).decode()
    write(a, "provide", json.dumps({"relation-id": 7, "certificate-signing-request": ec,
                                    "certificate": b64(leaf), "ca-certificate": root,
                                    "ca-chain": b64(inter + root), "unit-name": "app/0"}))
    write(a, "relation-string", json.dumps({"relation-id": "certificates:3"}))
    write(a, "relation-ids", json.dumps({"relation-id": -1, "certificate": 5, "ca-chain": None,
                                         "ca-certificate": "   "}))
    write(a, "relation-huge", '{"relation-id": 1e99, "certificate": ""}')
    write(a, "relation-junk", '{"relation-id": [1], "certificate-signing-request": {"a": 1}}')
    write(a, "base64-binary", json.dumps({"certificate": base64.b64encode(b"\xff\xfe\x00binary").decode()}))
    write(a, "base64-nopad", json.dumps({"certificate": b64(leaf).rstrip("=")}))
    write(a, "base64-no-begin", json.dumps({"certificate": b64("hello")}))
    write(a, "plain-base64", b64(leaf + inter))
    write(a, "plain-pem", ec)
    write(a, "wrapped-base64", "\n".join(b64(root)[i:i + 76] for i in range(0, len(b64(root)), 76)))

    # config: config-get output.
    g = "config"
    write(g, "defaults", "{}")
    write(g, "full", json.dumps({
        "mode": "self-signed", "ca-common-name": "My CA", "ca-organization": "Org",
        "ca-organizational-unit": "Unit", "ca-email-address": "ca@example.com",
        "ca-country-name": "GB", "ca-state-or-province-name": "State", "ca-locality-name": "City",
        "ca-key-algorithm": "ecdsa-p256", "root-ca-validity": "3650d",
        "certificate-validity": "90d", "allowed-domains": " Example.COM, .internal., example.com,",
        "allow-ip-sans": False, "allow-wildcard-dns": "false", "allow-ca-requests": True,
        "certificate-limit": 10}))
    write(g, "manual", json.dumps({"mode": "manual", "certificate-limit": "0"}))
    write(g, "bad", json.dumps({
        "mode": "auto", "ca-common-name": " ", "ca-email-address": "\u00e9@x", "ca-country-name": "G",
        "ca-key-algorithm": "RSA-2048", "root-ca-validity": "-1d", "certificate-validity": "0w",
        "allowed-domains": "*.com, a..b, co.uk", "allow-ip-sans": "yes", "certificate-limit": -3}))
    write(g, "long", json.dumps({"ca-common-name": "\u00e9" * 64, "ca-organization": "x" * 65,
                                 "ca-locality-name": "a\u0007b", "root-ca-validity": "5300w",
                                 "certificate-validity": "99999999999999999999m"}))
    write(g, "types", json.dumps({"mode": 1, "ca-common-name": None, "root-ca-validity": 30,
                                  "allow-ip-sans": 1, "certificate-limit": 1.5,
                                  "allowed-domains": ["a"]}))
    write(g, "durations", json.dumps({"root-ca-validity": "100h", "certificate-validity": "50h"}))


if __name__ == "__main__":
    main()
