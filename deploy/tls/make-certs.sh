#!/usr/bin/env bash
# Certificates for a Dask cluster that speaks TLS between hosts (scheduler, workers, the app).
#
#   bash deploy/tls/make-certs.sh OUT_DIR [HOST ...]
#
# Makes a private CA (ca.pem, ca-key.pem) and one certificate signed by it (loom.pem,
# loom-key.pem) valid for every HOST given (names or IP addresses) plus localhost/127.0.0.1.
# Scheduler, workers and clients all present it; each side checks the other against ca.pem.
# Point Dask at them (see README, "Several machines"):
#   DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION=true
#   DASK_DISTRIBUTED__COMM__TLS__CA_FILE=OUT_DIR/ca.pem
#   DASK_DISTRIBUTED__COMM__TLS__SCHEDULER__CERT=OUT_DIR/loom.pem  (…__KEY=OUT_DIR/loom-key.pem)
#   DASK_DISTRIBUTED__COMM__TLS__WORKER__CERT / __KEY, DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT / __KEY
# Keep ca-key.pem off the cluster's machines; anyone holding it can join.
set -euo pipefail
out=${1:?usage: make-certs.sh OUT_DIR [HOST ...]}
shift
mkdir -p "$out"
san="DNS:localhost,IP:127.0.0.1"
for host in "$@"; do
    if [[ $host =~ ^[0-9.]+$ || $host == *:* ]]; then san="$san,IP:$host"; else san="$san,DNS:$host"; fi
done
openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=Loom Dask CA" \
    -keyout "$out/ca-key.pem" -out "$out/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=loom-dask" \
    -keyout "$out/loom-key.pem" -out "$out/loom.csr" 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" > "$out/ext.cnf"
openssl x509 -req -in "$out/loom.csr" -CA "$out/ca.pem" -CAkey "$out/ca-key.pem" -CAcreateserial \
    -days 825 -extfile "$out/ext.cnf" -out "$out/loom.pem" 2>/dev/null
rm -f "$out/loom.csr" "$out/ext.cnf" "$out/ca.srl"
chmod 600 "$out/ca-key.pem" "$out/loom-key.pem"
echo "wrote $out/ca.pem $out/loom.pem $out/loom-key.pem (CA key: $out/ca-key.pem)"
