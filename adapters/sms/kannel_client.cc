#include "adapters/sms/kannel_client.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

namespace taxhub::sms {

std::string SendSmsTarget(const KannelOptions& options, const std::string& to,
                          const std::string& text, const std::string& task_id) {
  Poco::URI uri("/cgi-bin/sendsms");
  uri.addQueryParameter("username", options.username);
  uri.addQueryParameter("password", options.password);
  uri.addQueryParameter("from", options.from);
  uri.addQueryParameter("to", to);
  uri.addQueryParameter("text", text);
  uri.addQueryParameter("charset", "UTF-8");
  uri.addQueryParameter("coding", "2");
  if (!options.dlr_url.empty()) {
    // Kannel fills %d (report type), %T (its time), %A (the SMSC's words) when it calls back.
    Poco::URI callback(options.dlr_url);
    callback.addQueryParameter("task", task_id);
    uri.addQueryParameter("dlr-mask", "31");
    uri.addQueryParameter("dlr-url", callback.toString() + "&type=%d&ts=%T&reply=%A");
  }
  return uri.getPathAndQuery();
}

SendResult SendSms(const KannelOptions& options, const std::string& to, const std::string& text,
                   const std::string& task_id) {
  SendResult result;
  Poco::Net::StreamSocket socket;
  try {
    socket.connect(Poco::Net::SocketAddress(options.host, static_cast<Poco::UInt16>(options.port)),
                   Poco::Timespan(static_cast<long>(options.timeout_ms) * 1000));
  } catch (const Poco::Exception& e) {
    result.kind = SendResult::Kind::kNotSent;
    result.text = "cannot reach smsbox at " + options.host + ":" + std::to_string(options.port) +
                  ": " + e.displayText();
    return result;
  }
  // From here on the request may have been read, so a missing answer is kUnknown.
  try {
    // The session applies its own timeouts only to sockets it connects itself.
    const Poco::Timespan timeout(static_cast<long>(options.timeout_ms) * 1000);
    socket.setSendTimeout(timeout);
    socket.setReceiveTimeout(timeout);
    Poco::Net::HTTPClientSession session(socket);
    session.setTimeout(timeout);
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET,
                                   SendSmsTarget(options, to, text, task_id),
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost(options.host, static_cast<Poco::UInt16>(options.port));
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& body = session.receiveResponse(response);
    std::string answer;
    Poco::StreamCopier::copyToString(body, answer);
    while (!answer.empty() && (answer.back() == '\n' || answer.back() == '\r')) answer.pop_back();
    result.status = static_cast<int>(response.getStatus());
    result.text = answer.empty() ? response.getReason() : answer;
    if (result.status == 202 || result.status == 200) {
      result.kind = SendResult::Kind::kAccepted;
    } else if (result.status >= 500) {
      result.kind = SendResult::Kind::kNotSent;  // smsbox says it queued nothing
    } else {
      result.kind = SendResult::Kind::kRefused;
    }
  } catch (const Poco::Exception& e) {
    result.kind = SendResult::Kind::kUnknown;
    result.text = "no answer from smsbox: " + e.displayText();
  }
  return result;
}

}  // namespace taxhub::sms
