"""Asking the Hugging Face Hub: fail in a second or two when it cannot be reached, and say what to do.

huggingface_hub answers an unreachable Hub only after retrying its first request five times with
back-off: 23 s measured here (no network) for `hf_hub_download` and for `load_dataset` of a Hub
name, before either falls back to the local cache. snac_hf asks first, once and without retries:

- `HF_HUB_OFFLINE` set (`huggingface_hub.constants.HF_HUB_OFFLINE`): the Hub is not asked at all;
- otherwise one HEAD request for a file of the repository, `PROBE_TIMEOUT` seconds at most. Any
  HTTP answer (404, 401, ...) means the Hub is reachable: the real call then reports what it says.

Torch-free: the analysis and BPE commands read token sets from the Hub through this module.
"""

from __future__ import annotations

#: Seconds the one probing request may take (connect + answer); huggingface_hub's default is 10.
#: A Hub that accepts connections but never answers costs this plus huggingface_hub's own first
#: request of a process (its agent registry, 3 s, only when it has no copy from the last day):
#: 5.0 s measured (tests/test_cli.py). A failing DNS or refused connection costs ~0.1 s.
PROBE_TIMEOUT = 2.0


class HubUnreachableError(ConnectionError):
    """The Hub could not be asked (offline mode, no network); the message says what to do instead."""


def is_repo_id(name: str) -> bool:
    """Whether `name` is spelled like a Hub repository id (`name` or `owner/name`)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def unreachable_reason(repo_id: str, repo_type: str = "model", filename: str = "README.md") -> str | None:
    """Why the Hub cannot be asked about `repo_id` now, or None when it answered (any status).

    Asks for the metadata of `filename` once (HEAD, no retries, `PROBE_TIMEOUT` s), unless
    `HF_HUB_OFFLINE` is set, in which case nothing is sent and the reason is that setting.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    if offline_mode():
        return "HF_HUB_OFFLINE is set"
    try:
        get_hf_file_metadata(hf_hub_url(repo_id, filename, repo_type=repo_type), timeout=PROBE_TIMEOUT)
    except HfHubHTTPError:
        return None  # the Hub answered (unknown repository, gated, no such file): the real call says so
    except Exception as error:  # no network, DNS, timeout, proxy: whatever the HTTP client raises
        return f"{type(error).__name__}: {error}"
    return None


def offline_mode() -> bool:
    """Whether `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`) was set when huggingface_hub was imported."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def check_dataset_reachable(name: str) -> None:
    """Raise `dataset_unreachable` at once when the Hub cannot be asked about dataset `name`.

    In offline mode nothing is raised: `load_dataset` then reads the Hugging Face cache, and a name
    that is not there is its `ConnectionError`, which the caller turns into `dataset_unreachable`.
    """
    reason = unreachable_reason(name, "dataset")
    if reason is not None and not offline_mode():
        raise dataset_unreachable(name, reason)


def load_hub_dataset(name: str, split: str):
    """`load_dataset(name, split=split)` for a Hub dataset name, failing fast when the Hub is unreachable
    (`check_dataset_reachable`; huggingface_hub alone would retry for ~23 s, then try its cache)."""
    from datasets import load_dataset

    check_dataset_reachable(name)
    try:
        return load_dataset(name, split=split)
    except ConnectionError as error:  # offline mode, and not in the cache
        raise dataset_unreachable(name, f"{type(error).__name__}: {error}") from None


def dataset_unreachable(name: str, reason: str) -> HubUnreachableError:
    """The error for a dataset `name` that is neither a local path nor reachable on the Hub."""
    cache = (
        "it is not in your Hugging Face cache either"
        if offline_mode()
        else "if it is in your Hugging Face cache already, run with HF_HUB_OFFLINE=1 to read it from there"
    )
    return HubUnreachableError(
        f"{name}: no such local file or folder, and the Hugging Face Hub cannot be asked for a dataset of "
        f"that name ({reason}). A local path? Check its spelling. A Hub dataset? Download it where the Hub "
        f"is reachable (`hf download --repo-type dataset {name} --local-dir DIR`) and pass DIR; {cache}."
    )


def check_push_target(repo_id: str, private: bool = False) -> str:
    """Before any work whose result `--push_to_hub REPO` uploads: the Hub can be reached, a token is
    there and valid, and the dataset repository `repo_id` exists or is created now (so its owner
    may write there). Returns the URL of the repository; raises `HubUnreachableError` or ValueError
    with one line that says what to do (nothing has been encoded yet)."""
    from huggingface_hub import HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError

    prefix = f"--push_to_hub {repo_id}"
    if not is_repo_id(repo_id):
        raise ValueError(f"{prefix}: not a Hub repository id (owner/name)")
    reason = unreachable_reason(repo_id, "dataset")
    if reason is not None:
        raise HubUnreachableError(
            f"{prefix}: the Hugging Face Hub cannot be reached ({reason}); nothing was encoded. Run "
            "where the Hub is reachable, or leave out --push_to_hub and upload the folder later "
            "(`hf upload --repo-type dataset REPO FOLDER --exclude '.snac_hf/*'`)"
        )
    token = get_token()
    if token is None:
        raise ValueError(f"{prefix}: no Hugging Face token; run `hf auth login` (or set HF_TOKEN) first")
    api = HfApi(token=token)
    try:
        api.whoami()
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    except HfHubHTTPError as error:
        status = getattr(error.response, "status_code", None)
        raise ValueError(
            f"{prefix}: the Hub refused (HTTP {status}: {str(error).splitlines()[0]}); check that your "
            "token may write there (`hf auth whoami`, a write token) and the repository's owner"
        ) from None
    return str(url)
