// Loads the compiled library as a direct-mode application does and reports which optional registry
// packages ended up loaded. All three are CommonJS, so whatever loaded them (import or require)
// left them in require.cache. MODE picks what the script does after the import:
//   direct  a direct-mode call (server + client on loopback)
//   http    NacosRegistry protocol 'http' loads its dependencies
//   grpc    NacosRegistry protocol 'grpc' loads its dependencies
//   module  MsRpcModule.forRoot({ nacos }) in a Nest application context (NACOS_PROTOCOL)
//   testing imports nestjs-ms-rpc/testing too and starts its HTTP test server
// HIDE (comma-separated package names) makes those packages unresolvable, as when not installed.
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';

if (process.env.HIDE) {
  register(new URL('./hide-packages.mjs', import.meta.url), { data: process.env.HIDE.split(',') });
}
const require = createRequire(import.meta.url);
const OPTIONAL = ['nacos', 'nacos-naming', '@grpc/grpc-js', 'protobufjs'];
const loaded = () =>
  OPTIONAL.filter((name) => Object.keys(require.cache).some((p) => p.includes(`/node_modules/${name}/`)));
const quiet = { log() {}, warn() {}, error() {}, debug() {}, verbose() {} };
const report = {};

const lib = await import(pathToFileURL(process.env.MS_RPC_LIB).href);
report.afterImport = loaded();
try {
  if (process.env.MODE === 'direct') {
    const server = new lib.MsRpcServer({ port: 0, host: '127.0.0.1' });
    server.addHandler('echo', async (data) => data);
    await new Promise((resolve, reject) => server.listen((err) => (err ? reject(err) : resolve())));
    const client = new lib.MsRpcClient({ service: 'echo', providers: [`127.0.0.1:${server.port}`], logger: quiet });
    report.answer = await client.call('echo', 'hi');
    await client.close();
    await server.close();
  } else if (process.env.MODE === 'http' || process.env.MODE === 'grpc') {
    await new lib.NacosRegistry({ serverList: '127.0.0.1:1', protocol: process.env.MODE, logger: quiet }).loadDependencies();
  } else if (process.env.MODE === 'testing') {
    const testing = await import(pathToFileURL(process.env.MS_RPC_LIB.replace(/index\.js$/, 'testing/index.js')).href);
    report.afterTestingImport = loaded();
    const server = new testing.NacosTestServer();
    await server.start();
    await server.stop();
  } else if (process.env.MODE === 'module') {
    const { Module } = await import('@nestjs/common');
    const { NestFactory } = await import('@nestjs/core');
    class AppModule {}
    Module({
      imports: [lib.MsRpcModule.forRoot({ nacos: { serverList: '127.0.0.1:1', protocol: process.env.NACOS_PROTOCOL }, logger: quiet })],
    })(AppModule);
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
    await app.close();
  }
  report.outcome = 'ok';
} catch (err) {
  report.outcome = 'caught';
  report.error = { name: err.name, code: err.code, message: err.message, packages: err.packages, cause: err.cause?.code };
}
report.afterUse = loaded();
console.log(JSON.stringify(report));
