"""Replay the dead-lettered records of a stream consumer: ``make redrive FUNCTION=<logical id>``.

A stream consumer sends a record that kept failing to its dead-letter queue whole
(``loyalty.streams.consume``). A replay invokes the function with that one record,
marked as a replay (a failure is then reported, not dead-lettered again); when the
function reports no failure, the message is deleted. Every consumer applies a
record at most once (business keys, markers), so a record replayed twice, or
replayed after it was applied, changes nothing.

Messages that carry only Lambda's on-failure pointers (a batch that crashed the
function as a whole, e.g. a timeout) hold no record: they are listed with their
shard and sequence numbers and left in the queue.

Targets:
* ``--local URL``: the local stack (``make local``), which replays in-process;
* ``--stack NAME``: AWS with the current credentials; the function and its queue
  are found from the CloudFormation stack.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from loyalty.streams import DEAD_LETTER_VERSION

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class RedriveResult:
    replayed: int = 0
    still_failing: int = 0
    pointers_only: list[dict[str, Any]] = field(default_factory=list)


def redrive_queue(sqs: Any, queue_url: str, invoke: Invoke, max_messages: int = 10_000) -> RedriveResult:
    """Replay every whole record in the queue once; delete what applied."""
    result = RedriveResult()
    kept: list[str] = []  # receipt handles of messages that stay
    seen = 0
    while seen < max_messages:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            break
        for message in messages:
            seen += 1
            body = json.loads(message["Body"])
            if body.get("version") != DEAD_LETTER_VERSION:
                result.pointers_only.append(body.get("DDBStreamBatchInfo") or {"message": body})
                kept.append(message["ReceiptHandle"])
                continue
            response = invoke({"Records": [body["record"]], "redrive": True}) or {}
            if response.get("batchItemFailures"):
                result.still_failing += 1
                kept.append(message["ReceiptHandle"])
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            result.replayed += 1
    for handle in kept:  # what stays is visible again at once, for the next redrive
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return result


def _aws(function: str, stack: str) -> RedriveResult:
    import boto3

    physical = boto3.client("cloudformation").describe_stack_resource(
        StackName=stack, LogicalResourceId=function
    )["StackResourceDetail"]["PhysicalResourceId"]
    lambda_ = boto3.client("lambda")
    variables = lambda_.get_function_configuration(FunctionName=physical)["Environment"]["Variables"]
    queue_url = variables.get("DEAD_LETTER_QUEUE_URL")
    if not queue_url:
        raise SystemExit(f"{function} is not a stream consumer with a dead-letter queue")

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        answer = lambda_.invoke(FunctionName=physical, Payload=json.dumps(event).encode())
        payload = json.loads(answer["Payload"].read() or b"{}")
        if answer.get("FunctionError"):
            return {"batchItemFailures": [{"itemIdentifier": "function error"}], "error": payload}
        return dict(payload or {})

    return redrive_queue(boto3.client("sqs"), queue_url, invoke)


def _local(function: str, url: str) -> RedriveResult:
    request = urllib.request.Request(  # noqa: S310 - the local stack on loopback
        f"{url.rstrip('/')}/_local/redrive",
        data=json.dumps({"function": function}).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310 - loopback
        return RedriveResult(**json.loads(response.read()))


DEFAULT_STACK = "LoyaltyStack"  # infra.stack.STACK_NAME (importing it would load the CDK)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--function", required=True, help="logical id, e.g. PointsEarn")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--local", metavar="URL", help="the local stack, e.g. http://127.0.0.1:3000")
    target.add_argument("--stack", metavar="NAME", nargs="?", const=DEFAULT_STACK, help="a deployed stack")
    args = parser.parse_args(argv)
    result = _local(args.function, args.local) if args.local else _aws(args.function, args.stack)
    print(json.dumps(asdict(result), indent=2))
    return 1 if result.still_failing else 0


if __name__ == "__main__":
    sys.exit(main())
