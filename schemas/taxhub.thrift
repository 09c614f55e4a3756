// taxhub wire schema. Every body on the hub's MDP services is one of these structs, encoded
// with TCompactProtocol in a single frame.
//
// Convention: field 1 of every reply struct is `optional Error error`. A client that cannot
// tell which reply it got (or got a reply from a service it mistyped) can always decode the
// body as ErrorReply and look at field 1.

namespace cpp taxhub.wire
namespace py taxhub.wire

enum ErrorCode {
  OK = 0,
  BAD_REQUEST = 1,       // a field has a bad value (see Error.field)
  MISSING_FIELD = 2,     // a required field is absent or empty (see Error.field)
  DECODE_ERROR = 3,      // the body is not a valid Thrift struct of the expected type
  TOO_LARGE = 4,         // the message or one of its fields exceeds a configured limit
  UNKNOWN_SERVICE = 5,   // no hub service and no pass-through route has this name
  UNKNOWN_KIND = 6,      // no workflow is configured for the request kind
  CONFLICT = 7,          // the request id was already used with another body
  NOT_FOUND = 8,         // no such request (or not visible to the asker)
  UNAVAILABLE = 9,       // the hub cannot serve now (ledger down, draining); retry later
  TIMEOUT = 10,          // a pass-through call got no reply in time
  PROTOCOL_ERROR = 11,   // the MDP envelope itself is malformed
  INTERNAL = 12,
  TAKEN = 13,            // a staff task was already claimed by someone else
  BAD_SIGNATURE = 14,    // the signature does not verify over the body with the certificate
  CERT_EXPIRED = 15,     // the signer's certificate is outside its validity period
  CERT_REVOKED = 16,     // the signer's certificate is on the configured CRL
  UNTRUSTED_CERT = 17,   // no chain to a trusted CA, or a certificate not fit for signing
  SIGNER_MISMATCH = 18,  // the certificate's subject does not carry the request's taxpayer id
  BAD_TAXPAYER_ID = 19,  // neither a valid unified social credit code nor a resident id
  UNAUTHENTICATED = 20,  // admin endpoint: no valid token
  FORBIDDEN = 21,        // admin endpoint: the role may not do this
}

struct Error {
  1: ErrorCode code,
  2: string message,
  3: string field,       // the offending field ("" when the error is not about one field)
}

// Decodes field 1 of any reply.
struct ErrorReply {
  1: optional Error error,
}

// ---- taxhub.submit -------------------------------------------------------------------------

struct SubmitRequest {
  1: string request_id,              // idempotency key chosen by the hall; generated if empty
  2: string kind,                    // e.g. "filing.vat", "registration.new"
  3: string taxpayer_id,             // unified social credit code or resident id
  4: map<string, string> attributes, // envelope attributes used for routing (tax_office, ...)
  5: binary body,                    // the application itself, stored byte for byte
  6: binary signature,               // detached signature over `body` exactly (SM2-with-SM3 or
                                     // ECDSA-with-SHA256, DER), by the taxpayer's key
  7: binary certificate,             // the signer's X.509 certificate, DER
}

struct PlannedStage {
  1: i32 index,
  2: string name,
  3: string label,                   // the node's name as shown to people (受理, 核查, ...)
  4: string service_name,            // the MDP service an adapter stage goes to ("service" is reserved)
  5: i64 time_limit_ms,              // 办结时限
  6: string queue,                   // the staff queue of a human stage (service_name is then "")
  7: string condition,               // when the stage runs only under a condition: that condition
  8: bool on_rejection,              // runs only after an earlier stage rejected the request
}

struct SubmitReply {
  1: optional Error error,
  2: string request_id,
  3: i64 accepted_at_ms,             // when the request was committed to the ledger
  4: list<PlannedStage> stages,
  5: bool duplicate,                 // true when this repeats the reply to an earlier submit
  6: bool corrected,                 // true when this submit corrected a returned request
}

// ---- taxhub.progress -----------------------------------------------------------------------

enum RequestState {
  ACCEPTED = 0,
  IN_PROGRESS = 1,
  COMPLETED = 2,
  REJECTED = 3,
  FAILED = 4,
  RETURNED = 5,     // returned to the taxpayer for correction; waits for a corrected submit
}

enum StageState {
  PENDING = 0,      // earlier stages are not done yet
  READY = 1,        // waiting in the ledger for a worker (or for its retry time)
  DISPATCHED = 2,   // leased to a worker
  DONE = 3,
  REJECTED = 4,     // the legacy system or a handler refused it
  FAILED = 5,       // attempts exhausted
  SKIPPED = 6,
  RETURNED = 7,     // staff returned the application here for correction
}

struct ProgressRequest {
  1: string request_id,
  2: string taxpayer_id,             // required: a taxpayer sees only their own requests
}

struct StageReport {
  1: string type,                    // as reported: "sms.delivered" …
  2: i64 at_ms,                      // when the hub recorded it
  3: map<string, string> details,    // as reported, plus "reporter" (and "observed_at_ms")
}

struct StageProgress {
  1: i32 index,
  2: string name,
  3: string label,
  4: string service_name,
  5: StageState state,
  6: string handler,                 // who handled it (worker or staff id)
  7: i64 ready_at_ms,
  8: i64 started_at_ms,
  9: i64 finished_at_ms,
  10: i64 deadline_ms,
  11: i32 attempts,
  12: string code,                   // legacy or error code of the last outcome
  13: string message,
  14: bool overdue,
  15: map<string, string> outputs,
  16: string queue,                  // human stages: the staff queue
  17: list<StageReport> reports,     // what the legacy system said afterwards (taxhub.report)
}

struct ProgressReply {
  1: optional Error error,
  2: string request_id,
  3: string kind,
  4: string taxpayer_id,
  5: RequestState state,
  6: i64 accepted_at_ms,
  7: i64 finished_at_ms,
  8: list<StageProgress> stages,
  9: string signer,                  // the signing certificate's subject ("" if unsigned)
  10: i64 verified_at_ms,            // when the hub verified the signature
}

// ---- taxhub.rate and taxhub.complain: the taxpayer's say on how a request was handled --------

struct RateRequest {
  1: string request_id,
  2: string taxpayer_id,             // a taxpayer rates their own requests only
  3: i32 stage,                      // a DONE stage of it
  4: i32 score,                      // 1 (poor) .. 5 (excellent)
  5: string comment,                 // optional, at most 500 bytes of UTF-8
}

struct RateReply {
  1: optional Error error,
  2: string handler,                 // who handled the stage rated
  3: i64 rated_at_ms,
}

// A complaint against a stage (and so its handler) or the request as a whole (stage -1): it
// starts a request of kind complaint.service on its own workflow, linked both ways.
struct ComplainRequest {
  1: string request_id,              // the request complained about
  2: string taxpayer_id,
  3: i32 stage,                      // -1: the request as a whole
  4: string text,                    // 1..2000 bytes of UTF-8
  5: string complaint_id,            // idempotency key; generated when empty
}

struct ComplainReply {
  1: optional Error error,
  2: string complaint_id,            // the complaint's own request id (follow it with progress)
  3: string handler,                 // who is complained about ("" for the request as a whole)
  4: bool duplicate,
}

// ---- taxhub.items: the taxpayer's "my tax area" (我的办税区) -----------------------------------

struct ItemsRequest {
  1: string taxpayer_id,
  2: string taxpayer_type,           // the hall's profile of the user: general, small_scale …
  3: string industry,                // industry code (GB/T 4754), e.g. "5191"
}

struct Item {
  1: string type,                    // obligation | reminder | alert | notice
  2: string title,
  3: string text,
  4: string due_date,                // obligations and reminders: YYYY-MM-DD
  5: string state,                   // obligation: open | overdue; reminder: due | overdue; alert: its period
  6: i64 at_ms,                      // when it was recorded or published
  7: string ref,                     // the obligation or alert id, or the notice's name
}

struct ItemsReply {
  1: optional Error error,
  2: list<Item> items,               // obligations by due date, then reminders, alerts (newest first), notices
}

// ---- taxhub.report: what a legacy system says about a task after its stage was answered --------
// An SMS gateway's delivery report, a bank's reconciliation finding: recorded as an event
// ("report.<type>") on the task's request, without changing any state. Reporting the same
// (task, type, details) again records nothing new and says so.

struct TaskReport {
  1: string task_id,                 // "<request id>/<stage index>", as in the StageTask
  2: string type,                    // "sms.delivered", "tips.mismatch" … (a-z 0-9 . _ -)
  3: string reporter,                // the adapter instance that observed it
  4: map<string, string> details,
  5: i64 observed_at_ms,             // when the legacy system said it
}

struct TaskReportReply {
  1: optional Error error,
  2: i64 sequence,                   // the ledger event that records the report
  3: bool duplicate,                 // true when the same report was already recorded
}

// ---- events: the PUB socket and taxhub.events ----------------------------------------------
// Every event a hub appends to its ledger chain is published after its commit as three frames:
//   [topic = the event type, e.g. "request.completed"] ["<stream>:<seq>"] [Event]
// The stream is the hub's chain (its hub id); seq is the event's place in it, gap-free and
// increasing. Heartbeats — topic "hub.heartbeat", ["<stream>:<latest seq>"], an empty frame —
// say how far the stream has got, so that a subscriber sees a loss even when nothing follows
// it. taxhub.events replays any part of a stream from the ledger.

struct Event {
  1: string stream,
  2: i64 seq,
  3: string type,                    // the topic
  4: string request_id,
  5: i32 stage,                      // -1 when about the request as a whole
  6: i64 at_ms,
  7: string detail,                  // words for people; JSON for reports
  8: string hash,                    // the chain hash of this event (hex)
}

struct EventsRequest {
  1: string stream,                  // "" for the answering hub's own
  2: i64 after_seq,                  // events with seq > after_seq
  3: i32 limit,                      // 1..1000
}

struct EventsReply {
  1: optional Error error,
  2: string stream,
  3: list<Event> events,             // in seq order, at most `limit`
  4: i64 head_seq,                   // the stream's latest seq when it is this hub's own;
                                     // otherwise the last seq returned (or after_seq)
}

// ---- stage tasks: hub -> adapter worker -> hub ----------------------------------------------

struct StageTask {
  1: string task_id,                 // stable across attempts: "<request id>/<stage index>"
  2: string request_id,
  3: string stage,
  4: i32 attempt,                    // 1 for the first delivery
  5: i64 fencing_token,              // must be echoed in the result; stale tokens are refused
  6: string kind,
  7: string taxpayer_id,
  8: map<string, string> attributes,
  9: binary payload,                 // the request body as submitted
  10: map<string, string> inputs,    // outputs of earlier stages, merged in stage order
  11: i64 deadline_ms,
  12: i64 accepted_at_ms,            // when the request was accepted (e.g. TIPS EntrustDate)
}

enum StageOutcome {
  SUCCEEDED = 0,
  REJECTED = 1,      // a final refusal (legacy code + reason); the request ends REJECTED
  RETRY = 2,         // a transient failure; the hub retries with backoff
  UNAVAILABLE = 3,   // the legacy system was not reached, so nothing happened there: the hub
                     // waits (backoff, circuit) without spending an attempt; the stage's time
                     // limit still marks it overdue
}

struct StageResult {
  1: string task_id,
  2: i64 fencing_token,
  3: StageOutcome outcome,
  4: map<string, string> outputs,
  5: string handler,
  6: string code,
  7: string message,
}
