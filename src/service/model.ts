/** What the service calls itself and its one model, in every protocol's metadata. */

export const SERVICE_NAME = 'dropout-service';
export const SERVICE_VERSION = '0.1.0';

/** The Open Inference Protocol's model: one, named for what it computes, at one version. */
export const MODEL = 'dropout';
export const MODEL_VERSION = '1';
