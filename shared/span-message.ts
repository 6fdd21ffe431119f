/**
 * SQL for the message of a span: its StatusMessage, else the first exception
 * event's message. Used wherever spans are grouped or mined by message.
 */
export const SPAN_MESSAGE_SQL =
  "if(StatusMessage != '', StatusMessage, arrayFirst(m -> m != '', arrayMap(a -> a['exception.message'], Events.Attributes)))";
