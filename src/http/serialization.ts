/**
 * Fastify's response serialisers (its own fast-json-stringify compiler), each compiled on the first reply that uses
 * it rather than when the app starts: every route declares a problem schema for each of its error statuses, most of
 * which a process never sends, and compiling them all was ~60 ms of every start.
 */
import SerializerSelector from '@fastify/fast-json-stringify-compiler';

type Factory = SerializerSelector.SerializerFactory;

export function lazySerializers(): Factory {
  const eager = SerializerSelector();
  return (externalSchemas, options) => {
    const compile = eager(externalSchemas, options);
    return (route) => {
      let serialize: SerializerSelector.Serializer | undefined;
      return (doc: unknown) => {
        serialize ??= compile(route);
        return serialize(doc);
      };
    };
  };
}
