#include "hub/broker/mdp.h"

#include "hub/base/digest.h"

namespace taxhub::mdp {

std::string_view CommandName(Command command) {
  switch (command) {
    case Command::kReady: return "READY";
    case Command::kRequest: return "REQUEST";
    case Command::kReply: return "REPLY";
    case Command::kHeartbeat: return "HEARTBEAT";
    case Command::kDisconnect: return "DISCONNECT";
  }
  return "?";
}

Frames MakeFrames(std::initializer_list<std::string_view> parts) {
  Frames out;
  out.reserve(parts.size());
  for (std::string_view part : parts) out.emplace_back(part.data(), part.size());
  return out;
}

bool IsValidServiceName(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  for (unsigned char c : name) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

ClientRequest ParseClientRequest(Frames& frames) {
  ClientRequest out;
  if (frames.empty()) {
    out.status = Status(ErrorCode::kProtocolError, "empty message");
    return out;
  }
  out.identity = Str(frames[0]);
  if (frames.size() < 2 || frames[1].size() != 0) {
    out.status = Status(ErrorCode::kProtocolError,
                        "frame 0 must be empty (use a REQ socket, or send it from a DEALER)",
                        "frame 0");
    return out;
  }
  if (frames.size() < 3 || View(frames[2]) != kClientHeader) {
    out.status = Status(ErrorCode::kProtocolError, "frame 1 must be \"MDPC01\"", "frame 1");
    return out;
  }
  if (frames.size() < 4) {
    out.status = Status(ErrorCode::kProtocolError, "no service frame", "frame 2");
    return out;
  }
  if (!IsValidServiceName(View(frames[3]))) {
    out.status = Status(ErrorCode::kProtocolError,
                        "service name must be 1-255 printable ASCII characters", "frame 2");
    return out;
  }
  out.service = Str(frames[3]);
  if (frames.size() < 5) {
    out.status = Status(ErrorCode::kProtocolError, "no body frame", "frame 3");
    return out;
  }
  for (size_t i = 4; i < frames.size(); ++i) out.body.push_back(std::move(frames[i]));
  return out;
}

WorkerMessage ParseWorkerMessage(Frames& frames) {
  WorkerMessage out;
  auto fail = [&](std::string message, std::string field) {
    out.status = Status(ErrorCode::kProtocolError, std::move(message), std::move(field));
    return std::move(out);
  };
  if (frames.empty()) return fail("empty message", "");
  out.identity = Str(frames[0]);
  if (frames.size() < 2 || frames[1].size() != 0) return fail("frame 0 must be empty", "frame 0");
  if (frames.size() < 3 || View(frames[2]) != kWorkerHeader) {
    return fail("frame 1 must be \"MDPW01\"", "frame 1");
  }
  if (frames.size() < 4 || frames[3].size() != 1) {
    return fail("frame 2 must be one command byte", "frame 2");
  }
  uint8_t code = static_cast<const uint8_t*>(frames[3].data())[0];
  if (code < 0x01 || code > 0x05) {
    return fail("unknown command 0x" + HexEncode(View(frames[3])), "frame 2");
  }
  out.command = static_cast<Command>(code);
  size_t after_id = frames.size() - 1;
  switch (out.command) {
    case Command::kReady:
      if (after_id != 4) return fail("READY has exactly 4 frames", "frame 3");
      if (!IsValidServiceName(View(frames[4]))) {
        return fail("service name must be 1-255 printable ASCII characters", "frame 3");
      }
      out.service = Str(frames[4]);
      break;
    case Command::kReply:
    case Command::kRequest:
      if (after_id < 6) {
        return fail(std::string(CommandName(out.command)) + " has 6 or more frames", "frame 5");
      }
      if (frames[5].size() != 0) return fail("frame 4 must be empty", "frame 4");
      out.client = Str(frames[4]);
      for (size_t i = 6; i < frames.size(); ++i) out.body.push_back(std::move(frames[i]));
      break;
    case Command::kHeartbeat:
    case Command::kDisconnect:
      if (after_id != 3) {
        return fail(std::string(CommandName(out.command)) + " has exactly 3 frames", "frame 3");
      }
      break;
  }
  return out;
}

namespace {

zmq::message_t Frame(std::string_view bytes) { return zmq::message_t(bytes.data(), bytes.size()); }

}  // namespace

Frames BuildClientReply(std::string_view identity, std::string_view service, Frames body) {
  Frames out;
  out.reserve(4 + body.size());
  out.push_back(Frame(identity));
  out.emplace_back();
  out.push_back(Frame(kClientHeader));
  out.push_back(Frame(service));
  for (auto& frame : body) out.push_back(std::move(frame));
  return out;
}

Frames BuildClientReply(std::string_view identity, std::string_view service,
                        std::string_view body) {
  Frames frames;
  frames.push_back(Frame(body));
  return BuildClientReply(identity, service, std::move(frames));
}

Frames BuildWorkerRequest(std::string_view identity, std::string_view client, Frames body) {
  Frames out;
  out.reserve(6 + body.size());
  out.push_back(Frame(identity));
  out.emplace_back();
  out.push_back(Frame(kWorkerHeader));
  const char command = static_cast<char>(Command::kRequest);
  out.push_back(Frame(std::string_view(&command, 1)));
  out.push_back(Frame(client));
  out.emplace_back();
  for (auto& frame : body) out.push_back(std::move(frame));
  return out;
}

Frames BuildWorkerCommand(std::string_view identity, Command command) {
  Frames out;
  out.push_back(Frame(identity));
  out.emplace_back();
  out.push_back(Frame(kWorkerHeader));
  const char code = static_cast<char>(command);
  out.push_back(Frame(std::string_view(&code, 1)));
  return out;
}

std::string IdentityForLog(std::string_view identity) {
  bool printable = !identity.empty();
  for (unsigned char c : identity) printable = printable && c >= 0x21 && c <= 0x7e;
  return printable ? std::string(identity) : HexEncode(identity);
}

}  // namespace taxhub::mdp
