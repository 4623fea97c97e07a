"""What the gateway does for every call, whatever the transport (gRPC or HTTP):

authenticate -> check the role -> compute the deadline to pass down -> spend the tenant's
tokens (and a stream slot) -> check the request -> forward to fusion -> map errors ->
account usage and write the audit record. Refusals are `Refused`; the transports render them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import grpc
from opentelemetry import trace

from gateway import usage as usage_metrics
from gateway.audit import AuditLog, AuditRecord, modalities, sizes
from gateway.auth import Authenticator
from gateway.deadlines import downstream_timeout
from gateway.errors import Refused, from_backend, internal_error
from gateway.policy import ANALYST, Principal, require_role
from gateway.ratelimit import Limiter, admit, stream_slot
from gateway.result_cache import ResultCache
from gateway.settings import Settings
from gateway.usage import UsageStore
from gateway.validation import check_options, check_request
from veritas import batching, hints
from veritas.analysis import InvalidInput
from veritas.media_uri import tenant_metadata
from veritas.questions import check_question, check_questions
from veritas.telemetry import current_trace_id
from veritas.v1 import common_pb2, fusion_pb2_grpc, veritas_pb2

tracer = trace.get_tracer("veritas.gateway")


def invalid(e: InvalidInput) -> Refused:
    return Refused(grpc.StatusCode.INVALID_ARGUMENT, str(e))


def check(request: common_pb2.AnalysisRequest, field: str = "request") -> None:
    """The gateway's checks of one request, a problem refused as INVALID_ARGUMENT."""
    try:
        check_request(request, field)
    except InvalidInput as e:
        raise invalid(e) from e


def settled(final: common_pb2.AnalysisResult | None) -> common_pb2.AnalysisResult:
    """Fusion's last result, which must be the final one."""
    if final is None or not final.final:
        raise Refused(grpc.StatusCode.UNAVAILABLE, "fusion ended without a final result")
    return final


CacheKey = tuple[str, bytes]
NO_FINAL_RESULT = Refused(grpc.StatusCode.UNAVAILABLE, "fusion ended without a final result")


@dataclass
class Miss:
    """A batch item the result cache did not answer."""

    index: int  # its place in the caller's batch
    request: common_pb2.AnalysisRequest
    key: CacheKey | None  # where its answer goes in the result cache


def refused_item(refused: Refused) -> veritas_pb2.BatchItem:
    return veritas_pb2.BatchItem(error_code=refused.code.value[0], error_message=refused.message)


def item_refusal(index: int, sent: int | None, error: grpc.aio.AioRpcError) -> Refused:
    """An item's error from fusion, mapped as Analyze maps fusion's error; bad input is
    named by the item's place in the caller's batch (`requests[index].`), not by its place
    `sent` in the FuseBatch message that carried it."""
    refused = from_backend(error)
    if refused.code == grpc.StatusCode.INVALID_ARGUMENT:
        message = refused.message if sent is None else batching.unprefixed(sent, refused.message)
        refused.message = batching.prefixed(index, message)
    return refused


def describe(record: AuditRecord, principal: Principal) -> None:
    record.tenant = principal.tenant
    who = principal.key_id if principal.method == "key" else principal.subject
    record.principal = f"{principal.method}:{who}"


@dataclass
class Call:
    """One call through the gateway: who, how long the services get, what to audit."""

    gateway: Gateway
    principal: Principal
    timeout: float
    audit: AuditRecord
    admitted: bool = False
    analyses: int = 0
    request_bytes: int = 0
    started: float = field(default_factory=time.perf_counter)
    detached: bool = False  # finished later, by the code that streams the response
    cache: bool = True  # the caller did not turn the result cache off (x-veritas-cache)
    failed: str = ""  # a status reported in-band (an HTTP stream's last line)
    exits: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def spend(self, cost: int, request_bytes: int, analyses: int | None = None) -> None:
        """Charge the tenant's bucket `cost` tokens: one per analysis (a batch pays per
        item), one per admin call."""
        with tracer.start_as_current_span("gateway.rate_limit"):
            await admit(self.gateway.limiter, self.principal.tenant, cost)
        self.admitted, self.request_bytes = True, request_bytes
        self.analyses = cost if analyses is None else analyses

    async def open_stream(self) -> None:
        """Hold one of the tenant's stream slots until the call ends."""
        limiter, settings = self.gateway.limiter, self.gateway.settings
        await self.exits.enter_async_context(
            stream_slot(limiter, self.principal.tenant, settings.max_streams)
        )

    def describe(self, request: common_pb2.AnalysisRequest) -> None:
        if not request.request_id:
            request.request_id = uuid.uuid4().hex
        self.audit.request_id = request.request_id
        self.audit.modalities = modalities(request)
        self.audit.sizes = sizes(request)


class Gateway:
    def __init__(
        self,
        fusion: grpc.aio.Channel,
        auth: Authenticator,
        limiter: Limiter,
        usage: UsageStore,
        audit: AuditLog,
        settings: Settings,
        cache: ResultCache | None = None,
    ) -> None:
        self.fusion = fusion_pb2_grpc.FusionStub(fusion)
        # Fuse for a caller that reads only the final result, called as unary: fusion then
        # sends exactly one message (veritas.hints), and a unary call costs both sides less
        # than a stream (veritas.wire.FinalOnlyUnaryInterceptor). Same method, same bytes.
        self.fuse_final = fusion.unary_unary(
            "/veritas.v1.Fusion/Fuse",
            request_serializer=common_pb2.AnalysisRequest.SerializeToString,
            response_deserializer=common_pb2.AnalysisResult.FromString,
            _registered_method=True,  # as the generated stubs: a pre-registered path
        )
        self.cache = cache
        self.auth = auth
        self.limiter = limiter
        self.usage = usage
        self.audit_log = audit
        self.settings = settings

    @asynccontextmanager
    async def call(
        self,
        method: str,
        transport: str,
        headers: Mapping[str, str],
        client_remaining_s: float | None,
        role: str = ANALYST,
        stream: bool = False,
        peer: str = "",
    ) -> AsyncIterator[Call]:
        """Authenticate, authorise and time one call; on exit, account and audit it."""
        record = AuditRecord(method=method, transport=transport, peer=peer)
        started = time.perf_counter()
        try:
            with tracer.start_as_current_span("gateway.authenticate"):
                try:
                    principal = await self.auth.authenticate(headers)
                except Refused as e:
                    if isinstance(e.principal, Principal):
                        describe(record, e.principal)
                    raise
            describe(record, principal)
            require_role(principal, role)
            s = self.settings
            if stream:
                timeout = downstream_timeout(
                    client_remaining_s, s.budget_s, s.max_stream_s, s.max_stream_s
                )
            else:
                timeout = downstream_timeout(
                    client_remaining_s, s.budget_s, s.default_deadline_s, s.max_deadline_s
                )
        except Refused as e:
            record.status = e.code.name
            await self.finish(record, None, started)
            raise
        call = Call(self, principal, timeout, record, started=started)
        call.cache = hints.cache_wanted(dict(headers))
        async with self.running(call):
            yield call

    @asynccontextmanager
    async def running(self, call: Call) -> AsyncIterator[None]:
        """The admitted part of a call; a detached call is finished by whoever re-enters
        `running` with it (an HTTP response that streams after its handler returned)."""
        status = "OK"
        try:
            async with call.exits:
                yield
        except Refused as e:
            status = e.code.name
            raise
        except (asyncio.CancelledError, GeneratorExit):
            status = "CANCELLED"
            raise
        except Exception as e:  # a bug: INTERNAL with a reference, the traceback logged once
            status = "INTERNAL"
            raise internal_error(e) from e
        except BaseException:
            status = "INTERNAL"
            raise
        finally:
            if not call.detached:
                call.audit.status = call.failed or status
                await self.finish(call.audit, call, call.started)

    async def finish(self, record: AuditRecord, call: Call | None, started: float) -> None:
        record.ms = round((time.perf_counter() - started) * 1000, 1)
        record.trace_id = current_trace_id()
        self.audit_log.write(record)
        if record.tenant:
            await asyncio.shield(self._account(record, call, record.status))

    async def _account(self, record: AuditRecord, call: Call | None, status: str) -> None:
        admitted = call is not None and call.admitted
        analyses = call.analyses if call and admitted else 0
        request_bytes = call.request_bytes if call and admitted else 0
        usage_metrics.record(record.tenant, record.method, status, analyses, request_bytes)
        counts = {
            "requests": int(admitted),
            "analyses": analyses,
            "rejected": int(status == "RESOURCE_EXHAUSTED" and not admitted),
            "errors": int(admitted and status != "OK"),
            "request_bytes": request_bytes,
        }
        try:
            await self.usage.add(record.tenant, counts)
        except Exception:  # noqa: BLE001 (usage totals must never fail a call)
            pass

    # ---- the operations -------------------------------------------------------------------

    async def analyze(
        self, call: Call, request: common_pb2.AnalysisRequest
    ) -> common_pb2.AnalysisResult:
        """The final result only: from the result cache, or from fusion asked for nothing
        else (no progressive results are built on the way: veritas.hints)."""
        final = await self._answer(call, request, describe=True)
        call.audit.decision = common_pb2.Decision.Name(final.decision)
        return final

    async def _answer(
        self, call: Call, request: common_pb2.AnalysisRequest, describe: bool = False
    ) -> common_pb2.AnalysisResult:
        """One request's final result, every failure a `Refused`: the checks and fusion's
        INVALID_ARGUMENT name the field from the message itself; `describe` fills the
        call's audit record once the request passed its checks."""
        check(request)
        if describe:
            call.describe(request)
        try:
            return await self._final(call, request)
        except grpc.aio.AioRpcError as e:
            raise from_backend(e) from e

    async def _lookup(
        self, call: Call, request: common_pb2.AnalysisRequest
    ) -> tuple[common_pb2.AnalysisResult | None, CacheKey | None]:
        """The cached answer to a checked request (None on a miss) and its cache key (None
        when the cache is off, or turned off by the caller, or the request is not cached)."""
        cache, key = self.cache, None
        if cache is not None and not call.cache:
            cache.bypass()
        elif cache is not None:
            key = cache.key(call.principal.tenant, request)
        if cache is not None and key is not None:
            with tracer.start_as_current_span("gateway.cache") as span:
                hit = await cache.get(key, request.request_id)
                span.set_attribute("veritas.cache", "hit" if hit is not None else "miss")
            if hit is not None:
                return hit, key
        return None, key

    async def _final(
        self, call: Call, request: common_pb2.AnalysisRequest
    ) -> common_pb2.AnalysisResult:
        """One checked request's final result (cache first); gRPC errors pass through."""
        hit, key = await self._lookup(call, request)
        if hit is not None:
            return hit
        # The tenant travels as metadata: fusion caps media fetches per tenant.
        metadata = tenant_metadata(call.principal.tenant) + hints.FINAL_ONLY_METADATA
        final = settled(await self.fuse_final(request, timeout=call.timeout, metadata=metadata))
        if self.cache is not None and key is not None:
            self.cache.put(key, final)
        return final

    async def progressive(
        self, call: Call, request: common_pb2.AnalysisRequest
    ) -> AsyncIterator[common_pb2.AnalysisResult]:
        """Fusion's progressive results, the final one last."""
        check(request)
        call.describe(request)
        final = None
        try:
            # The tenant travels as metadata: fusion caps media fetches per tenant.
            metadata = tenant_metadata(call.principal.tenant)
            async for result in self.fusion.Fuse(request, timeout=call.timeout, metadata=metadata):
                final = result
                yield result
        except grpc.aio.AioRpcError as e:
            raise from_backend(e) from e
        call.audit.decision = common_pb2.Decision.Name(settled(final).decision)

    async def analyze_batch(
        self, call: Call, batch: veritas_pb2.AnalyzeBatchRequest
    ) -> veritas_pb2.AnalyzeBatchResponse:
        """Each item checked and looked up in the result cache as Analyze does; the misses
        go to fusion together as one FuseBatch call (several when the message would grow
        too large: veritas.batching), each answer stored in the cache as Analyze stores it.
        Every item succeeds or fails on its own."""
        call.audit.items = len(batch.requests)
        for item in batch.requests:
            if not item.request_id:
                item.request_id = uuid.uuid4().hex
        present = {m for r in batch.requests for m in modalities(r)}
        call.audit.modalities = sorted(present)
        call.audit.sizes = {"bytes": batch.ByteSize()}
        answers: list[veritas_pb2.BatchItem | None] = [None] * len(batch.requests)

        async def look(i: int, request: common_pb2.AnalysisRequest) -> Miss | None:
            try:
                check(request, f"requests[{i}]")
            except Refused as e:
                answers[i] = refused_item(e)
                return None
            hit, key = await self._lookup(call, request)
            if hit is not None:
                answers[i] = veritas_pb2.BatchItem(result=hit)
                return None
            return Miss(i, request, key)

        looked = await asyncio.gather(*(look(i, r) for i, r in enumerate(batch.requests)))
        misses = [m for m in looked if m is not None]
        parts = batching.split(misses, lambda m: m.request.ByteSize(), batching.limit_bytes())
        await asyncio.gather(*(self._fuse_batch(call, part, answers) for part in parts))
        items = [a if a is not None else refused_item(NO_FINAL_RESULT) for a in answers]
        call.audit.decision = ",".join(
            common_pb2.Decision.Name(it.result.decision) if it.HasField("result") else "ERROR"
            for it in items
        )
        return veritas_pb2.AnalyzeBatchResponse(items=items)

    async def _fuse_batch(
        self, call: Call, misses: list[Miss], answers: list[veritas_pb2.BatchItem | None]
    ) -> None:
        """One FuseBatch call for `misses`; each answer put in its place and stored in the
        result cache as Analyze stores it."""
        request = veritas_pb2.AnalyzeBatchRequest(requests=[m.request for m in misses])
        # The tenant travels as metadata: fusion caps media fetches per tenant.
        metadata = tenant_metadata(call.principal.tenant)
        try:
            response = await self.fusion.FuseBatch(request, timeout=call.timeout, metadata=metadata)
        except grpc.aio.AioRpcError as e:
            for miss in misses:  # the call's failure is every item's, as in Analyze
                answers[miss.index] = refused_item(item_refusal(miss.index, None, e))
            return
        if len(response.items) != len(misses):
            for miss in misses:
                answers[miss.index] = refused_item(NO_FINAL_RESULT)
            return
        for sent, (miss, item) in enumerate(zip(misses, response.items)):
            if item.error_code:
                error = batching.item_error(item.error_code, item.error_message)
                answers[miss.index] = refused_item(item_refusal(miss.index, sent, error))
                continue
            final = item.result if item.HasField("result") else None
            if final is None or not final.final:
                answers[miss.index] = refused_item(NO_FINAL_RESULT)
                continue
            if self.cache is not None and miss.key is not None:
                self.cache.put(miss.key, final)
            answers[miss.index] = veritas_pb2.BatchItem(result=final)

    async def live(
        self, call: Call, chunks: AsyncIterator[common_pb2.LiveChunk]
    ) -> AsyncIterator[common_pb2.AnalysisResult]:
        """Forward live chunks to fusion as they come (config checked); relay its results."""
        problems: list[Refused] = []
        received: dict[str, int] = {}

        async def checked() -> AsyncIterator[common_pb2.LiveChunk]:
            async for chunk in chunks:
                kind = chunk.WhichOneof("payload") or "empty"
                if kind == "config":
                    try:
                        check_options(chunk.config.options, "config.options")
                        check_questions(chunk.config.questions, "config.questions")
                    except InvalidInput as e:
                        problems.append(invalid(e))
                        fusion_call.cancel()
                        return
                    call.audit.request_id = chunk.config.request_id
                elif kind == "question":
                    try:
                        check_question(chunk.question, "question")
                    except InvalidInput as e:
                        problems.append(invalid(e))
                        fusion_call.cancel()
                        return
                received[f"{kind}_bytes"] = received.get(f"{kind}_bytes", 0) + chunk.ByteSize()
                yield chunk

        fusion_call = self.fusion.FuseLive(checked(), timeout=call.timeout)
        final = None
        try:
            async for result in fusion_call:
                final = result
                yield result
        except grpc.aio.AioRpcError as e:
            raise (problems[0] if problems else from_backend(e)) from e
        except asyncio.CancelledError:
            if problems:
                raise problems[0] from None
            raise
        finally:
            call.audit.sizes = received
            call.audit.modalities = sorted(k.removesuffix("_bytes") for k in received)
        if final is not None:
            call.audit.request_id = final.request_id
            call.audit.decision = common_pb2.Decision.Name(final.decision)
