import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifyWebhookSignature,
} from '../../server/base/outbound/webhook-signature';
import type { WebhookCall } from '../../server/services/deployments/provider-webhook';

/**
 * The cheapest real target of a webhook-provider deployment: an HTTP receiver on 127.0.0.1 that
 * checks each call's signature the way an operator's receiver would, records it and answers 204
 * (done). A forged or replayed call gets 401, which the provider does not retry.
 */
export interface DeploymentReceiver {
  /** Its URL, for the provider's `url`. */
  url: string;
  /** The calls accepted, in order. */
  calls: WebhookCall[];
  close(): Promise<void>;
}

export async function startDeploymentReceiver(secret: string): Promise<DeploymentReceiver> {
  const calls: WebhookCall[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      const signed = verifyWebhookSignature({
        secret,
        body,
        timestamp: req.headers[TIMESTAMP_HEADER.toLowerCase()] as string | undefined,
        signature: req.headers[SIGNATURE_HEADER.toLowerCase()] as string | undefined,
      });
      if (!signed) {
        res.writeHead(401).end();
        return;
      }
      calls.push(JSON.parse(body) as WebhookCall);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/deploy`,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
