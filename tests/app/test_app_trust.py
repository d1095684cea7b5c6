"""The trust chain on the device: the app's one Ed25519 verifier (pure Python, so it installs
on Android and iOS alike) against RFC 8032's test vectors and against `cryptography`, which signs
on the desktop; and the key an app build trusts, pinned in its code, so that replacing or
deleting trusted_signer.pem in an installed app is refused, and the environment's override
exists only on a desktop."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app_fixtures import APP
from pocketml.cli import main
from pocketml.folder.signing import load_private_key, sign_manifest

sys.path.insert(0, str(APP))
from pocketapp import signature  # noqa: E402
from pocketapp.signature import SignatureError, fingerprint, verify_ed25519  # noqa: E402

# RFC 8032, section 7.1: secret key, public key, message, signature (hex).
RFC8032_VECTORS = {
    "TEST 1": ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
               "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
               "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
               "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    "TEST 2": ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
               "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
               "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
               "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    "TEST 3": ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
               "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
               "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
               "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    "TEST SHA(abc)": (
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
        "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"),
}
GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493  # RFC 8032's L


def pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def flip_bit(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


@pytest.mark.parametrize("name", list(RFC8032_VECTORS))
def test_rfc_8032_vectors_verify_and_any_changed_bit_is_refused(name):
    _, public_hex, message_hex, signature_hex = RFC8032_VECTORS[name]
    key = pem(Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)))
    message, sig = bytes.fromhex(message_hex), bytes.fromhex(signature_hex)
    assert verify_ed25519(key, sig, message)
    for bit in range(0, 512, 37):  # R's and S's bits alike
        assert not verify_ed25519(key, flip_bit(sig, bit), message)
    if message:
        assert not verify_ed25519(key, sig, flip_bit(message, 3))
    assert not verify_ed25519(key, sig, message + b"\0")


def test_the_rfc_vectors_are_what_cryptography_signs():
    """The vectors above, checked against the signer the desktop uses: a typo cannot pass."""
    for secret, public_hex, message, sig in RFC8032_VECTORS.values():
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
        assert key.public_key().public_bytes(serialization.Encoding.Raw,
                                             serialization.PublicFormat.Raw).hex() == public_hex
        assert key.sign(bytes.fromhex(message)).hex() == sig


def cryptography_accepts(public_key: Ed25519PublicKey, sig: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        public_key.verify(sig, message)
        return True
    except InvalidSignature:
        return False


def test_the_app_agrees_with_cryptography_on_random_keys_messages_and_alterations():
    rng = random.Random(8032)
    verdicts = []
    for _ in range(40):
        key = Ed25519PrivateKey.generate()
        message = rng.randbytes(rng.randrange(0, 2000))
        sig = key.sign(message)
        other = Ed25519PrivateKey.generate().public_key()
        cases = [(key.public_key(), sig, message), (other, sig, message),
                 (key.public_key(), flip_bit(sig, rng.randrange(512)), message),
                 (key.public_key(), sig[:63], message), (key.public_key(), sig + b"\0", message)]
        if message:
            cases.append((key.public_key(), sig, flip_bit(message, rng.randrange(8 * len(message)))))
        for public_key, candidate, text in cases:
            ours = verify_ed25519(pem(public_key), candidate, text)
            assert ours == cryptography_accepts(public_key, candidate, text)
            verdicts.append(ours)
    assert verdicts.count(True) == 40  # each untouched signature, and nothing else


def test_a_non_canonical_s_is_refused_as_by_cryptography():
    """S + L verifies the same equation; RFC 8032 requires S < L, so both refuse it."""
    key = Ed25519PrivateKey.generate()
    sig = key.sign(b"manifest")
    s = int.from_bytes(sig[32:], "little") + GROUP_ORDER
    malleable = sig[:32] + s.to_bytes(32, "little")
    assert not verify_ed25519(pem(key.public_key()), malleable, b"manifest")
    assert not cryptography_accepts(key.public_key(), malleable, b"manifest")


def test_a_trusted_key_that_is_not_an_ed25519_public_key_is_named():
    from cryptography.hazmat.primitives.asymmetric import ec

    p256 = pem(ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(SignatureError, match="not an Ed25519 key"):
        verify_ed25519(p256, b"\0" * 64, b"")
    with pytest.raises(SignatureError, match="not a PEM public key"):
        verify_ed25519(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                       b"\0" * 64, b"")


# --- the key an app build trusts ----------------------------------------------------------------

@pytest.fixture(scope="module")
def signed(kidney_folder, tmp_path_factory) -> dict[str, Path]:
    """Two key pairs, an app built with "ours", and the kidney bundle signed by each key."""
    root = tmp_path_factory.mktemp("trust")
    app = Path(shutil.copytree(APP, root / "mobile_app", ignore=shutil.ignore_patterns(
        "model", ".buildozer", "bin", "__pycache__", "trusted_signer.pem", "build_trust.py")))
    paths = {"app": app}
    for name in ("ours", "theirs"):
        key = root / "keys" / f"{name}.pem"
        assert main(["keygen", str(key)] + (["--app", str(app)] if name == "ours"
                                            else ["--no-app"])) == 0
        paths[f"{name}.pub"] = key.with_name(f"{name}.pub.pem")
        paths[name] = root / f"bundle-{name}"
        # `bundle --sign` takes only a folder signed when it was written (`train --sign`).
        folder = Path(shutil.copytree(kidney_folder, root / f"kidney-{name}"))
        sign_manifest(folder, load_private_key(key))
        assert main(["bundle", str(folder), "--to", str(paths[name]), "--sign", str(key)]) == 0
    return paths


OPEN_AS_THE_APP = """
import json, sys
from pathlib import Path
from pocketapp.bundle import BundleError, open_bundle
from pocketapp.signature import SignatureError, trusted_key
try:
    bundle = open_bundle(Path(sys.argv[1]), trusted_key(Path.cwd(), sys.argv[2]))
    print(json.dumps({"signer": bundle.signer}))
except (BundleError, SignatureError) as err:
    print(json.dumps({"refused": str(err)}))
"""


def open_as_the_app(app: Path, bundle: Path, platform: str, **environ) -> dict:
    """The app folder's own pocketapp (its pin module included) opens the bundle as main.py
    does, on the named platform, in a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if k != signature.OVERRIDE}
    done = subprocess.run([sys.executable, "-c", OPEN_AS_THE_APP, str(bundle), platform],
                          cwd=app, env={**env, "PYTHONPATH": str(app), **environ},
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_keygen_pins_the_key_in_the_apps_code(signed):
    pinned = (signed["app"] / "pocketapp" / "build_trust.py").read_text()
    public = signed["ours.pub"].read_bytes()
    assert f'TRUSTED_KEY_SHA256 = "{signature.key_sha256(public)}"' in pinned
    for platform in ("android", "ios", "desktop"):
        assert open_as_the_app(signed["app"], signed["ours"], platform) == {
            "signer": fingerprint(public)}
        assert "not by key" in open_as_the_app(signed["app"], signed["theirs"], platform)["refused"]


@pytest.fixture
def app(signed, tmp_path) -> Path:
    return Path(shutil.copytree(signed["app"], tmp_path / "mobile_app"))


def test_replacing_the_trusted_key_file_is_refused_not_obeyed(signed, app):
    shutil.copy(signed["theirs.pub"], app / "trusted_signer.pem")
    theirs = fingerprint(signed["theirs.pub"].read_bytes())
    for bundle in (signed["theirs"], signed["ours"]):
        refused = open_as_the_app(app, bundle, "android")["refused"]
        assert f"trusted_signer.pem is key {theirs}" in refused and "Reinstall" in refused


def test_deleting_the_trusted_key_file_never_returns_to_unsigned_mode(signed, app, kidney_bundle):
    (app / "trusted_signer.pem").unlink()
    for bundle in (signed["ours"], kidney_bundle):  # kidney_bundle: unsigned
        refused = open_as_the_app(app, bundle, "ios")["refused"]
        assert "trusted_signer.pem is missing" in refused


def test_the_environment_names_another_key_on_a_desktop_only(signed):
    theirs = {signature.OVERRIDE: str(signed["theirs.pub"])}
    on_desktop = open_as_the_app(signed["app"], signed["theirs"], "desktop", **theirs)
    assert on_desktop == {"signer": fingerprint(signed["theirs.pub"].read_bytes())}
    for phone in ("android", "ios"):
        assert "not by key" in open_as_the_app(signed["app"], signed["theirs"], phone,
                                               **theirs)["refused"]


def test_a_key_file_without_a_pin_in_the_code_is_refused(signed, app):
    (app / "pocketapp" / "build_trust.py").unlink()
    refused = open_as_the_app(app, signed["ours"], "android")["refused"]
    assert "not built to trust a key" in refused and "pocketml keygen" in refused
    (app / "trusted_signer.pem").unlink()  # an app built without a key: unsigned mode
    assert open_as_the_app(app, signed["ours"], "android") == {"signer": None}
