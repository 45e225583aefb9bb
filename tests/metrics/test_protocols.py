"""Image protocol settings: selection lists, and the protocols that score an image set."""

import pytest

from nats.metrics.protocols import ProtocolSettingsError, resolve_image_protocols, resolve_image_set_protocols


def test_unknown_protocol_entry_singled_out():
    evaluation = {"images": {"protocols": ["inception", "incepton", "clean"]}}

    with pytest.raises(ProtocolSettingsError) as error:
        resolve_image_protocols(evaluation, "digits")

    message = str(error.value)
    assert "evaluation.images.protocols[1] is 'incepton'" in message
    assert "did you mean 'inception'?" in message
    assert "['inception', 'incepton', 'clean']" not in message


def test_protocol_listed_twice_rejected():
    with pytest.raises(ProtocolSettingsError, match="lists 'legacy' more than once"):
        resolve_image_protocols({"images": {"protocols": ["legacy", "clean", "legacy"]}}, "digits")


def test_protocols_not_a_list_rejected():
    with pytest.raises(ProtocolSettingsError, match="must be a list of protocol names"):
        resolve_image_protocols({"images": {"protocols": "inception"}}, "digits")


def test_image_set_uses_config_protocols_in_order():
    evaluation = {"images": {"protocols": ["legacy", "inception"]}}

    resolved = resolve_image_set_protocols(evaluation, "digits")

    assert list(resolved["protocols"]) == ["legacy", "inception"]
    assert resolved["protocols"]["legacy"]["reference"] == "digits"
    assert resolved["protocols"]["legacy"]["reference_split"] == "all"


def test_image_set_named_protocols_replace_config_list():
    evaluation = {"images": {"protocols": ["legacy", "inception"]}}

    resolved = resolve_image_set_protocols(evaluation, "digits", ["clean"])

    assert list(resolved["protocols"]) == ["clean"]


def test_image_set_without_any_protocol_rejected():
    with pytest.raises(ProtocolSettingsError, match="no image protocol selected.*--protocol"):
        resolve_image_set_protocols({}, "digits")


def test_image_set_without_reference_or_dataset_rejected():
    with pytest.raises(ProtocolSettingsError) as error:
        resolve_image_set_protocols({"images": {"protocols": ["clean"]}}, None)

    message = str(error.value)
    assert "evaluation.clean.reference is not set and no dataset is given" in message
    assert "--dataset digits" in message


def test_image_set_of_other_dataset_needs_reference():
    evaluation = {"images": {"protocols": ["clean"]}}

    with pytest.raises(ProtocolSettingsError, match="dataset 'cifar10' has no bundled reference"):
        resolve_image_set_protocols(evaluation, "cifar10")

    evaluation["clean"] = {"reference": "real.npz"}
    assert resolve_image_set_protocols(evaluation, "cifar10")["protocols"]["clean"]["reference"] == "real.npz"
