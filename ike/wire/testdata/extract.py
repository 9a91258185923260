#!/usr/bin/env python3
"""extract.py WORKDIR PREFIX: turns a capture.sh run into test data.

Writes every IKE message of WORKDIR/ike.pcap (UDP 500, and UDP 4500 with
the non-ESP marker stripped; ESP is skipped) to
ike/wire/testdata/PREFIX-NN-EXCHANGE-{req,resp}-{i,r}.bin and as a Go fuzz
corpus file, and the key material charon logged at level 4 (initiator
side, WORKDIR/a.log) to ike/crypto/testdata/PREFIX-keys.txt as
"label: hex" lines in log order.
"""
import os, re, struct, sys

work, prefix = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
fuzzdir = os.path.join(here, "fuzz", "FuzzParseMessage")
cryptodir = os.path.join(here, "..", "..", "crypto", "testdata")
os.makedirs(fuzzdir, exist_ok=True)
os.makedirs(cryptodir, exist_ok=True)

EXCH = {34: "IKE_SA_INIT", 35: "IKE_AUTH", 36: "CREATE_CHILD_SA", 37: "INFORMATIONAL"}

data = open(os.path.join(work, "ike.pcap"), "rb").read()
magic = struct.unpack("<I", data[:4])[0]
end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
linktype = struct.unpack(end + "I", data[20:24])[0]
assert linktype == 1, "want Ethernet captures"
off, n = 24, 0
while off + 16 <= len(data):
    _, _, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
    pkt = data[off + 16:off + 16 + incl]
    off += 16 + incl
    if struct.unpack(">H", pkt[12:14])[0] != 0x0800:
        continue
    ip = pkt[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[9] != 17:
        continue
    udp = ip[ihl:]
    sport, dport, ulen = struct.unpack(">HHH", udp[:6])
    payload = udp[8:ulen]
    if 4500 in (sport, dport):
        if payload[:4] != b"\0\0\0\0":
            continue  # ESP in UDP
        payload = payload[4:]
    if len(payload) < 28:
        continue  # NAT-T keepalive
    exch = EXCH.get(payload[18], str(payload[18]))
    flags = payload[19]
    kind = "resp" if flags & 0x20 else "req"
    who = "i" if flags & 0x08 else "r"
    n += 1
    name = "%s-%02d-%s-%s-%s.bin" % (prefix, n, exch, kind, who)
    open(os.path.join(here, name), "wb").write(payload)
    lit = "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else "\\x%02x" % b for b in payload)
    with open(os.path.join(fuzzdir, name[:-4]), "w") as f:
        f.write('go test fuzz v1\n[]byte("%s")\n' % lit)

labels = ("shared Diffie Hellman secret", "SKEYSEED", "Sk_d secret", "Sk_ai secret",
          "Sk_ar secret", "Sk_ei secret", "Sk_er secret", "Sk_pi secret", "Sk_pr secret",
          "encryption initiator key", "encryption responder key",
          "integrity initiator key", "integrity responder key", "DH secret")
head = re.compile(r"\[(?:IKE|CHD)\] (.+?) => (\d+) bytes @")
row = re.compile(r"\[(?:IKE|CHD)\]\s+\d+: ((?:[0-9A-F]{2} ?)+)")
out, cur, want, buf = [], None, 0, []
for line in open(os.path.join(work, "a.log"), errors="replace"):
    if cur is not None:
        m = row.search(line)
        if m:
            buf += m.group(1).split()
            if len(buf) >= want:
                out.append("%s: %s" % (cur, "".join(buf[:want]).lower()))
                cur = None
            continue
        cur = None
    m = head.search(line)
    if m and m.group(1) in labels:
        cur, want, buf = m.group(1), int(m.group(2)), []
with open(os.path.join(cryptodir, prefix + "-keys.txt"), "w") as f:
    f.write("# Key material logged by strongSwan 5.9.8 (charon, initiator side) for the\n")
    f.write("# messages ike/wire/testdata/%s-*.bin; made by capture.sh and extract.py.\n" % prefix)
    f.write("\n".join(out) + "\n")
print("%d messages, %d key lines" % (n, len(out)))
