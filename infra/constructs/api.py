"""The storefront REST API: every ``RouteDef`` of every function, behind the API-key authorizer."""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.context import DeploymentContext
from infra.constructs.functions import Functions, log_retention
from infra.constructs.nag import acknowledge
from infra.definitions import AUTHORIZER, FUNCTIONS, needs_public_api_url

API_KEY_HEADER = "x-api-key"
GATEWAY_ERRORS = (
    (apigw.ResponseType.UNAUTHORIZED, 401, "unauthorized", "missing or unknown API key"),
    (apigw.ResponseType.ACCESS_DENIED, 403, "forbidden", "this key may not call this route"),
    # API Gateway reports an unknown path as a missing token; it is an unknown route.
    (apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, 404, "route_not_found", "no such route"),
    (apigw.ResponseType.THROTTLED, 429, "throttled", "too many requests"),
    (apigw.ResponseType.REQUEST_TOO_LARGE, 413, "payload_too_large", "request body too large"),
    (apigw.ResponseType.DEFAULT_5_XX, 500, "internal_error", "internal error"),
)
AUTHORIZER_CACHE_SECONDS = 300
STAGE_NAME = "live"


def _error_body(code: str, message: str) -> dict[str, dict[str, str | None]]:
    return {"error": {"code": code, "message": message, "field": None}}


class Api(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, context: DeploymentContext, functions: Functions
    ) -> None:
        super().__init__(scope, construct_id)

        self.access_log_group = logs.LogGroup(
            self,
            "AccessLogs",
            retention=log_retention(),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{Stack.of(self).stack_name}-storefront",
            description="Loyalty storefront API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Access logging needs the region's API Gateway CloudWatch role (AWS::ApiGateway::Account);
            # a fresh account has none. The construct creates the role and the account setting
            # (both retained when the stack is deleted) and makes the stage depend on it.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                tracing_enabled=True,
                throttling_rate_limit=context.api_rate_limit,
                throttling_burst_limit=context.api_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
        )

        # API Gateway's own answers follow the same error contract as the handlers
        # (the local gateway emulation answers identically).
        for response_type, status, code, message in GATEWAY_ERRORS:
            self.rest_api.add_gateway_response(
                f"Gateway{code.title().replace('_', '')}",
                type=response_type,
                status_code=str(status),
                response_headers={"Content-Type": "'application/json'"},
                templates={
                    "application/json": json.dumps(
                        {"error": {"code": code, "message": message, "field": None}}
                    )
                },
            )

        self.authorizer = apigw.RequestAuthorizer(
            self,
            "ApiKeyAuthorizer",
            handler=functions.functions[AUTHORIZER.logical_id],
            identity_sources=[apigw.IdentitySource.header(API_KEY_HEADER)],
            results_cache_ttl=Duration.seconds(AUTHORIZER_CACHE_SECONDS),
        )

        self.methods: dict[tuple[str, str], apigw.Method] = {}
        for fn_def in FUNCTIONS:
            for route in fn_def.routes:
                resource = self.rest_api.root.resource_for_path(route.path)
                method = resource.add_method(
                    route.method,
                    apigw.LambdaIntegration(functions.functions[fn_def.logical_id], allow_test_invoke=False),
                    authorizer=self.authorizer if route.authorized else None,
                    authorization_type=(
                        apigw.AuthorizationType.CUSTOM if route.authorized else apigw.AuthorizationType.NONE
                    ),
                )
                if not route.authorized:
                    acknowledge(
                        method,
                        "AwsSolutions-APIG4",
                        f"{route.method} {route.path} is declared public (authorized=False) "
                        "in definitions.py.",
                    )
                self.methods[(route.method, route.path)] = method

        # Functions that email unsubscribe links point them at this stage. No cycle: such a
        # function serves no route, so the stage (through its methods) never depends on it.
        for fn_def in FUNCTIONS:
            if needs_public_api_url(fn_def):
                if fn_def.routes:
                    raise ValueError(f"{fn_def.logical_id} serves routes and needs the stage URL: a cycle")
                functions.functions[fn_def.logical_id].add_environment("PUBLIC_API_URL", self.rest_api.url)

        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG2",
            "Requests are validated in the handlers (Powertools event handler with enable_validation and "
            "pydantic models), which answer 400 with the field in error; a second schema here would drift.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG3",
            "No WAF in this product's scope: callers are storefront back ends with per-tenant API keys; "
            "stage throttling and the API-key authorizer bound abuse.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG6",
            "Execution logs would go to a log group API Gateway creates outside this stack "
            "(API-Gateway-Execution-Logs_<api>/<stage>, no retention) and can carry request data; "
            "JSON access logs (with retention) and X-Ray cover every request.",
        )
        acknowledge(
            self.rest_api.node.find_child("CloudWatchRole"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "The API Gateway service role for CloudWatch logging (AWS::ApiGateway::Account) is meant to use "
            "the AWS-managed AmazonAPIGatewayPushToCloudWatchLogs policy; it is assumable only by "
            "apigateway.amazonaws.com and grants CloudWatch Logs actions only.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-COG4",
            "Callers are storefront systems, not end users: a Lambda REQUEST authorizer resolves the "
            "x-api-key header to tenant and channel; there is no Cognito user pool.",
        )
